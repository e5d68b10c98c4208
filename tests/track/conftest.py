from __future__ import annotations

import logging
from pathlib import Path

import pytest


@pytest.fixture
def mkscript(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write an executable shell script and return its path."""
    n = 0

    def make(body: str, name: str | None = None) -> str:
        nonlocal n
        n += 1
        p = tmp_path / (name or f"s{n}.sh")
        p.write_text("#!/bin/sh\n" + body + "\n")
        p.chmod(0o755)
        return str(p)

    return make


@pytest.fixture
def track_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="pykeepalived")
    return caplog
