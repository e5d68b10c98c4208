from tests.daemon.conftest import lab, nodes  # noqa: F401 - shared fixtures
