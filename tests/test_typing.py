"""The model is typed all the way (issue 14): mypy, as `make lint` runs it with pyproject.toml's
settings, passes on this checkout's sources, and --strict covers the configuration, the cores
(vrrp, bfd, lvs) and the layers the wiring stands on (check, control, linux). A new untyped function
or a type error in those packages fails here with mypy's report."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STRICT = {"config", "vrrp", "bfd", "lvs", "check", "control", "linux"}


def test_strict_covers_the_packages() -> None:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    strict = {m.removeprefix("pykeepalived.").removesuffix(".*")
              for o in conf.get("overrides", []) if o.get("strict") for m in o["module"]}
    assert strict >= STRICT, STRICT - strict


def test_mypy_passes() -> None:
    p = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
