from tests.daemon.conftest import lab  # noqa: F401 - the three-host lab (nodes: tests/conftest.py)
