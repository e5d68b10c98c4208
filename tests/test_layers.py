"""The package layers hold (issue 14): import-linter's contracts in pyproject.toml, run on this
checkout's sources. The cores (vrrp, bfd, lvs) import no other package, the configuration imports no
runtime package, the Linux layer neither the configuration nor the wiring, and no package below the
daemon imports it, so there is no import loop between packages. Inside the daemon, the entry point
sits over the four processes' packages (parent, vrrp, checker, bfd: none imports another) over what they
share; nothing of the product imports the lab. A new import that breaks one fails
here with the chain of imports that does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    p = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "6 kept, 0 broken" in p.stdout
