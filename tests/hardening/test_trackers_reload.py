"""Trackers added, changed and removed by a reload (issue 20, item 2), beside keepalived 2.2.7.

A MASTER without trackers is reloaded three times: a tracker of one kind is added in a good state
(keepalived stays MASTER), its definition is changed to a failing one (FAULT), and it is removed
(MASTER again). Before, a reload told an instance nothing about a track_file, track_process or
track_interface it had not tracked at start: the instance waited in FAULT for a value that never
came, on every later reload too. The script kind also compares keepalived's script lines
(clear_diff_script's "considered successful on reload" among them; a run killed by the reload
reports nothing). track_bfd's reload carry-over
is covered by tests/daemon/test_track_bfd_*.py."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import Node, differential, instance_conf, log_lines, wait_for

pytestmark = pytest.mark.netns

VIP = "192.0.2.100"
GLOBALS = """global_defs {
    enable_script_security
    script_user root
}
"""
SLEEP_ARG = "31415926"  # the tracked process: `sleep 31415926` runs during the test
SCRIPT_LINES = re.compile(r"VRRP_Script\(|Script `")
FAULT = re.compile(r"\(VI_1\) (Entering FAULT STATE|entering FAULT state)$")


def tracker_conf(kind: str, step: int, d: str) -> tuple[str, str]:
    """(definitions, the instance's track block) of `kind` at `step`: 0 none, 1 good, 2 failing,
    3 removed."""
    if step not in (1, 2):
        return "", ""
    if kind == "file":
        return (f"vrrp_track_file tf {{\n    file {d}/tf{step}\n}}\n",
                "    track_file {\n        tf weight 0\n    }\n")
    if kind == "script":
        return (f"vrrp_script chk {{\n    script {d}/{'ok' if step == 1 else 'bad'}.sh\n    interval 1\n}}\n",
                "    track_script {\n        chk\n    }\n")
    if kind == "process":
        arg = SLEEP_ARG if step == 1 else "27182818"
        return (f"vrrp_track_process tp {{\n    process sleep {arg}\n    quorum 1\n}}\n",
                "    track_process {\n        tp\n    }\n")
    assert kind == "interface"  # dmy0 is up, dmy2 down (veth pairs made by the test)
    return "", f"    track_interface {{\n        {'dmy0' if step == 1 else 'dmy2'}\n    }}\n"


def config(kind: str, step: int, n: Node) -> str:
    defs, track = tracker_conf(kind, step, str(n.dir))
    instance = instance_conf(state="MASTER", extra=track)
    return GLOBALS + defs + instance[instance.index("vrrp_instance"):]


def steady(cond: Callable[[], bool], hold: float = 2.5, timeout: float = 30) -> None:
    """Wait until `cond` has held for `hold` seconds in a row (a state, not a passing moment)."""
    since: float | None = None
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if not cond():
            since = None
        elif since is None:
            since = time.monotonic()
        elif time.monotonic() - since >= hold:
            return
        time.sleep(0.1)
    raise AssertionError(f"no steady state within {timeout} s")


@pytest.fixture
def sleeper() -> Iterator[None]:
    proc = subprocess.Popen(["sleep", SLEEP_ARG])
    yield
    proc.kill()
    proc.wait()


def _child_reloads(n: Node) -> int:
    return sum(1 for line in n.logs().splitlines() if line.endswith(": Reloading"))


@pytest.mark.parametrize("kind", ["file", "script", "process", "interface"])
def test_tracker_added_changed_removed_by_reload(oracle_lab: tuple[Lab, Host, Host], sleeper: None,
                                                 kind: str) -> None:
    _, *hosts = oracle_lab
    for h in hosts:
        h.run(["ip", "link", "add", "dmy0", "type", "veth", "peer", "name", "dmy1"])
        h.run(["ip", "link", "add", "dmy2", "type", "veth", "peer", "name", "dmy3"])
        h.run(["ip", "link", "set", "dmy1", "up"])
        h.run(["ip", "link", "set", "dmy0", "up"])
    with differential(hosts, "") as pair:
        for n in pair:
            (n.dir / "tf1").write_text("0\n")
            (n.dir / "tf2").write_text("1\n")
            # ok.sh is often running at a reload
            for name, body in (("ok", "sleep 0.6\nexit 0"), ("bad", "exit 1")):
                (n.dir / f"{name}.sh").write_text(f"#!/bin/sh\n{body}\n")
                (n.dir / f"{name}.sh").chmod(0o755)
            n.conf.write_text(config(kind, 0, n))
            n.start()
        for n in pair:
            wait_for(lambda n=n: n.has(VIP), 20)
        for step, master in ((1, True), (2, False), (3, True)):
            marks = [len(n.logs().splitlines()) for n in pair]
            for n in pair:
                n.conf.write_text(config(kind, step, n))
                n.signal(signal.SIGHUP)
            for n, m in zip(pair, marks, strict=True):
                wait_for(lambda n=n, k=step: _child_reloads(n) == k, 15)
                if not master:
                    wait_for(lambda n=n, m=m: any(FAULT.search(x) for x in n.logs().splitlines()[m:]), 20)
                steady(lambda n=n, up=master: n.has(VIP) == up)
            if kind == "script":
                ka, py = ([x.split(": ", 1)[1] for x in n.logs().splitlines()[m:] if SCRIPT_LINES.search(x)]
                          for n, m in zip(pair, marks, strict=True))
                assert py == ka, f"step {step}"
        assert log_lines(pair[1], re.compile("VRRP child failed|Traceback")) == []
