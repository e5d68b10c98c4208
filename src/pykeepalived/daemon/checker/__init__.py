"""The checker child (keepalived's Keepalived_healthcheckers): health checks and the LVS table
(checker_child.py), the global LVS settings it applies (lvs_apply.py), MISC_CHECK script security
(check_scripts.py, also used by the -t config test), its SNMP agent's view (check_snmp_view.py)."""
