"""Run keepalived -t and ours on the same files inside a network namespace (shared by the tests)."""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pykeepalived.configtest import config_test_output, run_config_test

LINE_RE = re.compile(r"^\((?:(?:.*): )?Line (\d+)\)")
MESSAGE_RE = re.compile(rb"^\((?:(.*): )?Line (\d+)\) (.*)$")
CONFIG_ID = "testid"


def cited_lines(text: str) -> set[int]:
    return {int(m.group(1)) for ln in text.splitlines() if (m := LINE_RE.match(ln))}


def keepalived_verdict(ns: str, path: Path) -> tuple[int, set[int], str]:
    code, err = keepalived_cli(ns, path)
    text = err.decode("utf-8", "surrogateescape")
    return code, cited_lines(text), text


def our_verdict(path: Path, interfaces: set[str]) -> tuple[int, set[int], str]:
    code, diags = run_config_test(str(path), CONFIG_ID, interfaces=interfaces)
    shown = [d for d in diags if not d.log_only]
    text = "\n".join(d.format() for d in shown)
    return code, {d.loc.line for d in shown if d.loc.line}, text


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


def messages(stderr: bytes) -> set[tuple[int, bytes]]:
    """The messages of a `-t` run, byte for byte, as (line, text) (line 0: none cited).

    keepalived -t reads the file once per process. Its first reading, of the file itself, cites
    `(Line N)` and counts a line holding a NUL as no line at all (none before it: no citation); the
    others read its cleaned copy and cite `(FILE: Line N)`. Only those are kept, and a message cited
    without a line that is also cited with one. Indented lines (our "did you mean" hints) go.
    """
    cited: set[tuple[int, bytes]] = set()
    bare: set[bytes] = set()
    for ln in stderr.split(b"\n"):
        if not ln or ln[:1].isspace():
            continue
        m = MESSAGE_RE.match(ln)
        if m is None:
            bare.add(ln)
        elif m.group(1) is not None:
            cited.add((int(m.group(2)), m.group(3)))
    return cited | {(0, t) for t in bare - {t for _, t in cited}}


def keepalived_cli(ns: str, path: Path) -> tuple[int, bytes]:
    """(exit status, stderr) of keepalived -t run in `ns` on `path`."""
    return _config_test(ns, ["keepalived"], path)


def our_cli(ns: str, path: Path) -> tuple[int, bytes]:
    """(exit status, stderr) of pykeepalived -t run in `ns` on `path`."""
    return _config_test(ns, [sys.executable, "-m", "pykeepalived"], path)


def _config_test(ns: str, argv: list[str], path: Path) -> tuple[int, bytes]:
    p = subprocess.run(["ip", "netns", "exec", ns, *argv, "-t", "-i", CONFIG_ID, "-f", str(path)],
                       capture_output=True, timeout=60, cwd=path.parent)
    return p.returncode, p.stderr


def our_output(path: Path, interfaces: set[str]) -> tuple[int, bytes]:
    """(exit status, stderr) of pykeepalived -t on `path`, run in this process (our_cli's output
    without a process start: the fuzz tests run many)."""
    code, diags = run_config_test(str(path), CONFIG_ID, interfaces=interfaces)
    return code, config_test_output(diags)
