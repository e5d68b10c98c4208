"""Run keepalived -t and ours on the same files inside a network namespace (shared by the tests)."""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pykeepalived.config.check import run_config_test

LINE_RE = re.compile(r"^\((?:(?:.*): )?Line (\d+)\)")
CONFIG_ID = "testid"


def cited_lines(text: str) -> set[int]:
    return {int(m.group(1)) for ln in text.splitlines() if (m := LINE_RE.match(ln))}


def keepalived_verdict(ns: str, path: Path) -> tuple[int, set[int], str]:
    p = subprocess.run(
        ["ip", "netns", "exec", ns, "keepalived", "-t", "-i", CONFIG_ID, "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=path.parent,
    )
    return p.returncode, cited_lines(p.stderr), p.stderr


def our_verdict(path: Path, interfaces: set[str]) -> tuple[int, set[int], str]:
    code, diags = run_config_test(str(path), CONFIG_ID, interfaces=interfaces)
    text = "\n".join(d.format() for d in diags)
    return code, {d.loc.line for d in diags if d.loc.line}, text


def compare(ns: str, files: list[Path], interfaces: set[str]) -> list[str]:
    with ThreadPoolExecutor(8) as ex:
        theirs = list(ex.map(lambda f: keepalived_verdict(ns, f), files))
    problems = []
    for f, (tc, tl, tt) in zip(files, theirs, strict=True):
        oc, ol, ot = our_verdict(f, interfaces)
        if (tc, tl) != (oc, ol):
            problems.append(
                f"{f.name}: keepalived rc={tc} lines={sorted(tl)} / ours rc={oc} lines={sorted(ol)}\n"
                f"--- keepalived:\n{tt}--- ours:\n{ot}"
            )
    return problems
