"""The lab builder itself: connectivity, and no namespace left behind whatever happens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from pykeepalived.lab import Lab, cleanup_stale, list_netns

pytestmark = pytest.mark.netns


def _ours(prefix: str) -> list[str]:
    return [n for n in list_netns() if n.startswith(prefix)]


def test_hosts_talk_over_the_bridge() -> None:
    with Lab(hosts=3) as lab:
        assert _ours(lab.prefix) == sorted(lab.prefix + n for n in ("h1", "h2", "h3", "sw"))
        h1, h3 = lab["h1"], lab["h3"]
        assert str(h3.ipv4) == "192.0.2.3" and str(h3.ipv6) == "2001:db8::3"
        h1.run(["ping", "-c1", "-W2", str(h3.ipv4)])
        h1.run(["ping", "-c1", "-W2", str(h3.ipv6)])
        assert h1.call(lambda: os.listdir("/sys/class/net")) is not None
        assert "eth0" in h1.run("ls /sys/class/net")
    assert _ours(lab.prefix) == []


def test_teardown_on_exception() -> None:
    prefix = ""
    with pytest.raises(RuntimeError), Lab(hosts=2) as lab:
        prefix = lab.prefix
        assert len(_ours(prefix)) == 3
        raise RuntimeError("test failure inside the lab")
    assert prefix and _ours(prefix) == []


def _child(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_atexit_and_stale_cleanup() -> None:
    # a process that forgets to close its lab: atexit removes it
    proc = _child("from pykeepalived.lab import Lab\nlab = Lab(hosts=2)\nprint(lab.prefix, flush=True)\n")
    out, err = proc.communicate(timeout=30)
    prefix = out.strip()
    assert prefix, err
    assert _ours(prefix) == []
    # a process killed with SIGKILL leaves its namespaces; cleanup_stale() finds them by dead pid
    proc = _child(
        "import time\nfrom pykeepalived.lab import Lab\nlab = Lab(hosts=1)\nprint(lab.prefix, flush=True)\n"
        "time.sleep(60)\n"
    )
    assert proc.stdout is not None
    prefix = proc.stdout.readline().strip()
    assert len(_ours(prefix)) == 2
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert len(_ours(prefix)) == 2
    gone = cleanup_stale()
    assert set(_ours(prefix)) == set() and {prefix + "h1", prefix + "sw"} <= set(gone)


def test_cleanup_by_prefix() -> None:
    lab = Lab(hosts=1, prefix=f"pkdemo{os.getpid()}-")
    assert len(_ours(lab.prefix)) == 2
    assert sorted(cleanup_stale(lab.prefix)) == sorted([lab.prefix + "h1", lab.prefix + "sw"])
    assert _ours(lab.prefix) == []
    lab.close()  # idempotent after an external cleanup
