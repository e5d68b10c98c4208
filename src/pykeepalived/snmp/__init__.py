"""SNMP: the AgentX subagent protocol and MIB views (pure; the transport is control/snmp_subagent.py)."""
