"""SNMP: the AgentX subagent protocol and MIB views (pure; the transport is control/agentx.py)."""
