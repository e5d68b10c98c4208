from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "vm: boots a Linux kernel under qemu (virtme-ng) to test kernel "
                            "features this machine's kernel lacks (IPVS)")
