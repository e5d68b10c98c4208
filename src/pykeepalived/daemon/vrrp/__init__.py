"""The VRRP child (keepalived's Keepalived_vrrp): vrrp_child.py composes the parts around the VRRP core
and says in its header which part gets what; snmp_view.py and vrrp_dbus.py are the SNMP agent's and
the DBus service's narrow views of it, bgp.py the bgp_announce announcer it feeds."""
