"""contrib/container/Containerfile's build context (the repository root, `COPY . /src`) as a container
engine makes it from the root .dockerignore (docker's own matcher, from the docker SDK): no .git, no
.venv, no caches, and what is left builds the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import docker.utils.build

ROOT = Path(__file__).resolve().parents[1]
CONTAINERFILE = "contrib/container/Containerfile"


def context() -> set[str]:
    """The paths the engine sends (docker-py's build: the .dockerignore lines that are neither blank
    nor comments, the Containerfile always kept)."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [s.strip() for s in lines if s.strip() and not s.strip().startswith("#")]
    return set(docker.utils.build.exclude_paths(str(ROOT), patterns, dockerfile=CONTAINERFILE))


def test_context_leaves_out_the_checkout_s_own_files() -> None:
    sent = context()
    for junk in (".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"):
        assert not any(p == junk or p.startswith(junk + "/") for p in sent), junk
    assert not any("__pycache__" in p or ".egg-info" in p for p in sent)
    assert {"pyproject.toml", "README.md", CONTAINERFILE, "src/pykeepalived/cli.py"} <= sent


def test_context_builds_the_package(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for rel in context():
        p = ROOT / rel
        if p.is_file() and not p.is_symlink():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, src / rel)
    out = tmp_path / "build"
    # setuptools' build step as pip's install runs it (no network here: no build isolation)
    r = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "build",
                        "--build-base", str(out)], cwd=src, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lib = out / "lib" / "pykeepalived"
    assert (lib / "check" / "genhash.py").is_file() and any((lib / "data").iterdir())  # package data too
