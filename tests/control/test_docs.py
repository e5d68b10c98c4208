"""The generated documentation pages stay in step with the grammar and the bench output format; the
shell blocks of README.md and docs/ marked runnable run as written.

Every ```sh (bash, shell) block is preceded by a marker line: `<!-- runnable -->`, run here from the
checkout's root with the venv's bin first in PATH (as README says), under `bash -e -o pipefail`, in a
network and mount namespace of its own (loopback up, private /tmp and /run), so nothing on the host
changes; or `<!-- not run: REASON -->` for what installs, starts or needs what a test cannot give."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from pykeepalived.config.grammar import ROOT, Kw

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
FENCE = re.compile(r"^( *)```(sh|bash|shell)\s*$")
MARKER = re.compile(r"^\s*<!-- (runnable|not run: .+) -->\s*$")


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def keywords(table: dict[str, Kw]) -> set[str]:
    out = set(table)
    for spec in table.values():
        if spec.block:
            out |= keywords(spec.block)
    return out


def test_compatibility_page_is_current_and_complete() -> None:
    page = (DOCS / "compatibility.md").read_text()
    assert page == load("gen_compat").render(), "run: python docs/gen_compat.py > docs/compatibility.md"
    for kw in keywords(ROOT):
        assert f"| `{kw}` |" in page, kw
    assert "| `pykeepalived_metrics_address` | extension |" in page


def test_performance_page_fills_from_bench_rows() -> None:
    gen = load("gen_perf")
    page = (DOCS / "performance.md").read_text()
    assert gen.BEGIN in page and gen.END in page
    rows = [{"bench": "bench_core", "name": "advert encode", "value": 1.5, "unit": "us", "keepalived": None,
             "goal": "< 5"}]
    out = gen.render(page, rows)
    assert "| advert encode | 1.5 | - | us | < 5 |" in out
    assert out.startswith(page.split(gen.BEGIN)[0]) and out.endswith(page.split(gen.END)[1])


def test_design_state_diagram_is_current() -> None:
    gen = load("gen_design")
    page = (DOCS / "design.md").read_text()
    assert page == gen.render(page), "run: python docs/gen_design.py"
    # every reason the core can give for a transition appears in the diagram
    from pykeepalived.vrrp.effects import Reason

    for r in Reason:
        assert r.value in gen.mermaid(), r


# ---------------------------------------------------------------------------- runnable blocks
@dataclass(frozen=True)
class Block:
    where: str  # page:line of the opening fence
    marker: str | None
    text: str


def shell_blocks(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, start = m.group(1), i
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i].removeprefix(indent))
            i += 1
        prev = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
        mk = MARKER.match(prev)
        out.append(Block(f"{page.relative_to(REPO)}:{start + 1}", mk.group(1) if mk else None,
                         "\n".join(body) + "\n"))
        i += 1
    return out


BLOCKS = [b for page in PAGES for b in shell_blocks(page)]
RUNNABLE = [b for b in BLOCKS if b.marker == "runnable"]


def test_every_shell_block_is_marked() -> None:
    assert len(BLOCKS) >= 8 and len(RUNNABLE) >= 2
    unmarked = [b.where for b in BLOCKS if b.marker is None]
    assert unmarked == [], f"mark these <!-- runnable --> or <!-- not run: REASON -->: {unmarked}"


# the namespace: nothing the block does reaches the host's network, /tmp or /run. A checkout or venv
# that lives under /tmp or /run (a CI clone in /tmp) is carried over those fresh mounts at its path.
def prelude(keep: list[Path]) -> str:
    under = [str(k) for k in keep if k.is_relative_to("/tmp") or k.is_relative_to("/run")]
    hold = "".join(f"mkdir -p /mnt/k{i} && mount --rbind {k} /mnt/k{i}\n" for i, k in enumerate(under))
    back = "".join(f"mkdir -p {k} && mount --rbind /mnt/k{i} {k}\n" for i, k in enumerate(under))
    return ("mount --make-rprivate /\n" + ("mount -t tmpfs tmpfs /mnt\n" + hold if under else "")
            + "mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /run\n" + back
            + "ip link set lo up\nset -e -o pipefail\n")


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare")
@pytest.mark.parametrize("block", RUNNABLE, ids=[b.where for b in RUNNABLE])
def test_runnable_block_runs_as_written(block: Block) -> None:
    venv_bin = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    script = prelude([REPO.resolve(), Path(sys.prefix).resolve()]) + block.text
    proc = subprocess.run(["unshare", "--net", "--mount", "--fork", "bash", "-c", script],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (f"{block.where}\n{block.text}\n--- stdout\n{proc.stdout}\n"
                                  f"--- stderr\n{proc.stderr}")
