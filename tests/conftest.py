"""Suite-wide settings: Hypothesis without per-example deadlines (the suite runs in parallel on a
loaded 2-core machine; speed is measured in `make bench`, never asserted in tests)."""

from hypothesis import HealthCheck, settings

settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")
