"""The systemd unit of the running installation (`pykeepalivedctl unit`, `make install`).

# Theory of operation
systemd wants an absolute ExecStart, so the unit cannot be shipped ready-made: it is rendered from
data/pykeepalived.service.in with the path of the `pykeepalived` entry point that sits beside the
running `pykeepalivedctl` (the same venv or prefix), else the one in this interpreter's scripts
directory, else the first on $PATH; the path is made absolute, not resolved (a venv's bin/ entries
must be run by their own path). Documentation= names the Markdown pages of this installation:
PREFIX/share/doc/pykeepalived (what `make install` copies), else the docs/ of the checkout an
editable install runs from; without either the line is left out (a man: or file: page that does not
exist makes `systemd-analyze verify` complain, and keepalived's man pages describe keepalived).
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from importlib import resources
from pathlib import Path

TEMPLATE = "pykeepalived.service.in"
DOC_PAGES = ("operations.md", "migration.md", "compatibility.md")


def runnable(path: str | None) -> str | None:
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return os.path.abspath(path)
    return None


def entry_point(argv0: str | None = None) -> str | None:
    """The absolute path of the `pykeepalived` entry point of this installation, or None."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    candidates: list[str | None] = []
    if os.path.basename(argv0).startswith("pykeepalived"):  # run as an entry point of this install
        candidates.append(os.path.join(os.path.dirname(os.path.abspath(argv0)), "pykeepalived"))
    candidates += [os.path.join(sysconfig.get_path("scripts"), "pykeepalived"), shutil.which("pykeepalived")]
    for c in candidates:
        found = runnable(c)
        if found:
            return found
    return None


def doc_dir() -> str | None:
    """Where this installation's documentation pages are, or None."""
    package = Path(str(resources.files("pykeepalived")))
    for d in (Path(sys.prefix) / "share" / "doc" / "pykeepalived", package.parents[1] / "docs"):
        if (d / DOC_PAGES[0]).is_file():
            return str(d.absolute())
    return None


def render(exe: str, docs: str | None) -> str:
    """The unit for entry point `exe` (absolute) and documentation directory `docs`."""
    if not os.path.isabs(exe):
        raise ValueError(f"ExecStart must be an absolute path: {exe}")
    text = (resources.files("pykeepalived") / "data" / TEMPLATE).read_text()
    doc = ("Documentation=" + " ".join(f"file:{docs}/{p}" for p in DOC_PAGES) + "\n") if docs else ""
    return text.replace("@DOCUMENTATION@\n", doc).replace("@EXEC@", exe)
