"""The VRRP child (keepalived's Keepalived_vrrp): vrrp_child.py composes the parts around the VRRP core
and says in its header which part gets what; snmp_extras.py and vrrp_dbus.py are what the SNMP agent
and the DBus service take of it beside its VrrpView (instances.py), bgp.py the bgp_announce announcer
it feeds."""
