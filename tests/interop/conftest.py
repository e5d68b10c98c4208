from __future__ import annotations

import os
import shutil

import pytest

INTEROP = [
    pytest.mark.netns,
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived 2.2.7 not installed"),
]
