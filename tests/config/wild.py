"""keepalived -t and pykeepalived -t on the real-world configuration files of tests/data/wild-configs
(136 keepalived.conf files from public repositories, SOURCES.tsv says which), inside a namespace that
holds every interface those files name.

keepalived runs once per file (a C program: milliseconds). pykeepalived runs in the namespace as one
Python process that imports the package once and forks a child per file, which runs the CLI's
`main(["-t", "-f", FILE])` with its stderr on a pipe: the same code path as `pykeepalived -t`
without 136 interpreter start-ups (the run takes seconds instead of a minute).

Run as a script (`python tests/config/wild.py [DIR]`, as root) it prints the figures and every
difference: exit codes equal N/136, messages equal N/136.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

WILD = Path(__file__).resolve().parents[1] / "data" / "wild-configs"
_IFNAME = re.compile(r"^[A-Za-z0-9._-]{1,15}$")  # names `ip link add` takes (not placeholders: <NIC>)
_CITED = re.compile(r"^\((?:(.*): )?Line (\d+)\) (.*)$")


def corpus() -> list[Path]:
    return sorted(WILD.glob("*.conf"))


def interface_names(text: str) -> set[str]:
    """The interfaces a configuration names: interface, default_interface, lvs_sync_daemon(_interface),
    `dev X` of addresses and routes, the entries of track_interface (block or one word)."""
    out = set(re.findall(r"^\s*(?:interface|default_interface|lvs_sync_daemon_interface|lvs_sync_daemon)"
                         r"\s+(\S+)", text, re.M))
    out |= set(re.findall(r"\bdev\s+(\S+)", text))
    for block in re.findall(r"track_interface\s*\{([^}]*)\}", text):
        out |= {w[0] for ln in block.splitlines() if (w := re.split(r"[#!]", ln)[0].split())}
    out |= {w for w in re.findall(r"^\s*track_interface\s+(\S+)", text, re.M) if w != "{"}
    return {n for n in out if _IFNAME.match(n) and n != "lo"}


@contextmanager
def namespace(files: list[Path], prefix: str = "pkwild") -> Iterator[str]:
    """A namespace with lo and every interface the files name (veths, up), deleted afterwards."""
    ns = f"{prefix}-{uuid.uuid4().hex[:8]}"
    names: set[str] = set()
    for f in files:
        names |= interface_names(f.read_text(errors="replace"))
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        batch = [f"link add {n} type veth peer name wpeer{i}\nlink set {n} up"
                 for i, n in enumerate(sorted(names))]
        subprocess.run(["ip", "-n", ns, "-batch", "-"], input="\n".join([*batch, "link set lo up", ""]),
                       text=True, check=True)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def run_keepalived(ns: str, files: list[Path]) -> list[tuple[int, str]]:
    """(exit status, stderr) of `keepalived -t -f FILE` for each file, run from the file's directory."""
    def one(f: Path) -> tuple[int, str]:
        p = subprocess.run(["ip", "netns", "exec", ns, "keepalived", "-t", "-f", f.name],
                           capture_output=True, cwd=f.parent, timeout=60)
        return p.returncode, p.stderr.decode("utf-8", "surrogateescape")
    with ThreadPoolExecutor(4) as ex:
        return list(ex.map(one, files))


def run_ours(ns: str, files: list[Path]) -> list[tuple[int, str]]:
    """(exit status, stderr) of pykeepalived -t -f FILE for each file (see the module header)."""
    p = subprocess.run(["ip", "netns", "exec", ns, sys.executable, __file__, "--fork-run", *map(str, files)],
                       capture_output=True, text=True, timeout=600, check=True)
    return [(rc, err) for rc, err in json.loads(p.stdout)]


def _fork_run(files: list[str], jobs: int = 2) -> list[tuple[int, str]]:
    from pykeepalived.cli import main  # imported once, before the forks

    results: dict[int, tuple[int, str]] = {}
    running: dict[int, tuple[int, int]] = {}  # pid -> (index, read end)

    def reap() -> None:
        pid, status = os.wait()
        i, rfd = running.pop(pid)
        with os.fdopen(rfd, "rb") as fh:
            err = fh.read().decode("utf-8", "surrogateescape")
        results[i] = (os.waitstatus_to_exitcode(status), err)

    for i, f in enumerate(files):
        while len(running) >= jobs:
            reap()
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: pykeepalived -t -f FILE from the file's directory, stderr to the pipe
            code = 70
            try:
                os.close(rfd)
                os.dup2(wfd, 2)
                os.chdir(os.path.dirname(f))
                code = main(["-t", "-f", os.path.basename(f)])
            finally:
                sys.stderr.flush()
                os._exit(code)
        os.close(wfd)
        running[pid] = (i, rfd)
        # a child's stderr fits the pipe (a few KiB); a huge one would block it until reaped
    while running:
        reap()
    return [results[i] for i in range(len(files))]


def messages(stderr: str) -> set[tuple[int, str]]:
    """The messages of a -t run as (line, text): `(FILE: Line N) X` and `(Line N) X` (keepalived's
    first reading of the file does not name it) are both (N, X), a message without a line is (0, X);
    each once (keepalived prints a message once per process that reads it: docs/migration.md, `-t`
    prints each message once). Indented lines, pykeepalived's "did you mean" hints, are left out."""
    out = set()
    for ln in stderr.split("\n"):
        if not ln.strip() or ln[:1].isspace():
            continue
        m = _CITED.match(ln)
        out.add((int(m.group(2)), m.group(3)) if m else (0, ln))
    return out


def compare(ns: str, files: list[Path]) -> dict[str, tuple[tuple[int, int], set[tuple[int, str]],
                                                           set[tuple[int, str]]]]:
    """file name -> ((keepalived's exit status, ours), messages only keepalived printed, only ours)."""
    with ThreadPoolExecutor(2) as ex:
        theirs_f = ex.submit(run_keepalived, ns, files)
        ours_f = ex.submit(run_ours, ns, files)
        theirs, ours = theirs_f.result(), ours_f.result()
    out = {}
    for f, (kc, ke), (oc, oe) in zip(files, theirs, ours, strict=True):
        k, o = messages(ke), messages(oe)
        out[f.name] = ((kc, oc), k - o, o - k)
    return out


def report(result: dict[str, tuple[tuple[int, int], set[tuple[int, str]], set[tuple[int, str]]]]) -> str:
    lines = []
    for name, ((kc, oc), only_k, only_o) in result.items():
        if kc != oc or only_k or only_o:
            lines.append(f"== {name}: exit keepalived {kc}, pykeepalived {oc}")
            lines += [f"  keepalived only: {x}" for x in sorted(only_k)]
            lines += [f"  pykeepalived only: {x}" for x in sorted(only_o)]
    codes = sum(kc == oc for (kc, oc), _, _ in result.values())
    msgs = sum(not a and not b for _, a, b in result.values())
    lines.append(f"exit codes equal {codes}/{len(result)}, messages equal {msgs}/{len(result)}")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--fork-run"]:
        json.dump(_fork_run(sys.argv[2:]), sys.stdout)
    else:
        files = sorted(Path(sys.argv[1]).glob("*.conf")) if len(sys.argv) > 1 else corpus()
        with namespace(files, "p13wild") as ns:
            print(report(compare(ns, files)))
