"""BFD_CHECK on the real checker child with the nftables data plane, driven through a real event pipe by the
test (playing the BFD child): a real server whose session goes Down leaves the LVS table with keepalived's
log lines (check_bfd.c), and comes back on Up. The checker child is started directly (`--child=checker`,
as the parent re-executes it) holding the read end of the pipe."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pykeepalived.bfd.events import ENV_EVENT_FD
from pykeepalived.lab import lb_lab

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

VIP = "198.51.100.10"
RS1, RS2 = "192.0.2.11", "192.0.2.12"
VS = f"[{VIP}]:tcp:80"


def conf_text() -> str:
    return f"""global_defs {{
    router_id director
    lvs_dataplane nftables
}}
bfd_instance B1 {{
    neighbor_ip {RS1}
}}
bfd_instance B2 {{
    neighbor_ip {RS2}
    checker
}}
virtual_server {VIP} 80 {{
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server {RS1} 80 {{
        BFD_CHECK {{
            name B1
        }}
    }}
    real_server {RS2} 80 {{
        BFD_CHECK {{
            name B2
            alpha
        }}
    }}
}}
"""


class LogReader:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.proc = proc
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in list(self.lines)):
                return
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} within {timeout}s; log:\n{self.text()}")


def ruleset(ns: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"], check=True,
                          capture_output=True, text=True).stdout


def wait_pool(ns: str, want: set[str], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        text = ruleset(ns)
        have = {a for a in (RS1, RS2) if a in text}
        if have == want:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"pool {have}, want {want}:\n{text}")
        time.sleep(0.1)


def test_bfd_check_follows_the_pipe(tmp_path: Path) -> None:
    with lb_lab([RS1, RS2]) as lab:
        (tmp_path / "keepalived.conf").write_text(conf_text())
        r, w = os.pipe()
        env = dict(os.environ, TMPDIR=str(tmp_path), **{ENV_EVENT_FD: str(r)})
        proc = subprocess.Popen(
            ["ip", "netns", "exec", lab.director.ns, sys.executable, "-m", "pykeepalived", "--child=checker",
             "-n", "-l", "-D", "-f", str(tmp_path / "keepalived.conf"), "-c", str(tmp_path / "check.pid")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, pass_fds=(r,))
        os.close(r)
        log = LogReader(proc)
        try:
            log.wait_for("Activating BFD healthchecker", 20)
            # RS1 starts up (no alpha), RS2 down (alpha) until its session is reported Up
            wait_pool(lab.director.ns, {RS1})
            os.write(w, b"B2 UP\nB1 DOWN\n")
            log.wait_for(f"BFD check of [B1] RS([{RS1}]:tcp:80) is DOWN")
            log.wait_for(f"Removing service [{RS1}]:tcp:80 from VS {VS}")
            log.wait_for(f"BFD check of [B2] RS([{RS2}]:tcp:80) is UP")
            log.wait_for(f"Adding service [{RS2}]:tcp:80 to VS {VS}")
            wait_pool(lab.director.ns, {RS2})
            os.write(w, b"B1 UP\n")
            log.wait_for(f"Adding service [{RS1}]:tcp:80 to VS {VS}")
            wait_pool(lab.director.ns, {RS1, RS2})
            os.write(w, b"B1 UP\n")  # no change: nothing logged
            os.write(w, b"B2 DOWN\n")
            log.wait_for(f"Removing service [{RS2}]:tcp:80 from VS {VS}")
            wait_pool(lab.director.ns, {RS1})
            assert log.text().count(f"BFD check of [B1] RS([{RS1}]:tcp:80) is UP") == 1, log.text()
            assert f"Activating healthchecker for service [{RS1}]" not in log.text()  # no probe of its own
        finally:
            os.close(w)
            proc.terminate()
            proc.wait(15)


def test_bfd_check_end_to_end_with_keepalived_peer(tmp_path: Path) -> None:
    """The whole daemon (-C: checker and BFD children) on the director, keepalived 2.2.7's BFD child on
    real server RS1: when RS1's link goes down its session times out and RS1 leaves the nftables table;
    when it comes back, so does RS1. `-b` names the BFD child's pid file."""
    fast = "    min_rx 200\n    min_tx 200\n    multiplier 5\n"  # 1 s detection
    with lb_lab([RS1, RS2]) as lab:
        rs_ns = {addr: h.ns for addr, h in lab.servers.items()}
        peer_dir = tmp_path / "peer"
        peer_dir.mkdir()
        pconf = peer_dir / "keepalived.conf"
        pconf.write_text(f"bfd_instance DIR {{\n    neighbor_ip 192.0.2.1\n{fast}}}\n")
        peer = subprocess.Popen(
            ["ip", "netns", "exec", rs_ns[RS1], "keepalived", "-n", "-l", "-f", str(pconf),
             "-p", str(peer_dir / "p.pid"), "-b", str(peer_dir / "bfd.pid"), "-r", str(peer_dir / "v.pid"),
             "-c", str(peer_dir / "c.pid")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        conf = conf_text().replace(f"bfd_instance B1 {{\n    neighbor_ip {RS1}\n",
                                   f"bfd_instance B1 {{\n    neighbor_ip {RS1}\n{fast}")
        conf = conf.replace("            name B2\n            alpha\n", "            name B2\n")
        (tmp_path / "keepalived.conf").write_text(conf)
        env = dict(os.environ, TMPDIR=str(tmp_path))
        d = tmp_path
        proc = subprocess.Popen(
            ["ip", "netns", "exec", lab.director.ns, sys.executable, "-m", "pykeepalived", "-n", "-l", "-D",
             "-C", "-f", str(d / "keepalived.conf"), "-p", str(d / "p.pid"), "-c", str(d / "c.pid"),
             "-r", str(d / "v.pid"), "-b", str(d / "bfd.pid")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        log = LogReader(proc)
        try:
            log.wait_for("Starting BFD child process", 20)
            log.wait_for(f"BFD check of [B1] RS([{RS1}]:tcp:80) is UP", 20)
            # B2 has no peer: its session stays Down, RS2 (no alpha) was removed at the first event
            log.wait_for(f"BFD check of [B2] RS([{RS2}]:tcp:80) is DOWN", 5)
            wait_pool(lab.director.ns, {RS1})
            starts = [line.split("Starting ")[1].split(" child")[0] for line in log.lines
                      if "child process, pid=" in line]
            assert starts == ["Healthcheck", "BFD"], log.text()  # keepalived's order; -C: no VRRP child
            assert (d / "bfd.pid").read_text().strip().isdigit()

            link = ["ip", "netns", "exec", rs_ns[RS1], "ip", "link", "set", "eth0"]
            subprocess.run([*link, "down"], check=True)
            log.wait_for(f"BFD check of [B1] RS([{RS1}]:tcp:80) is DOWN", 10)
            log.wait_for(f"Removing service [{RS1}]:tcp:80 from VS {VS}")
            log.wait_for("(B1) Entering Down state")
            wait_pool(lab.director.ns, set())

            subprocess.run([*link, "up"], check=True)
            wait_pool(lab.director.ns, {RS1}, 20)
            after = log.text().rsplit(f"BFD check of [B1] RS([{RS1}]:tcp:80) is DOWN", 1)[1]
            assert f"Adding service [{RS1}]:tcp:80 to VS {VS}" in after, log.text()
        finally:
            proc.terminate()
            proc.wait(15)
            peer.terminate()
            peer.wait(15)
        assert not (d / "bfd.pid").exists()
