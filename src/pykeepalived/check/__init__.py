"""Health checkers (keepalived's checker child): specs, pure state machines, asyncio probes, runtime."""
