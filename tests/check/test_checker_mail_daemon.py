"""Checker smtp_alert end to end: the real daemon (`pykeepalived -C`, nftables data plane) in a director
namespace, three python HTTP real servers and a real aiosmtpd relay, each in its own namespace behind the
director's bridge. Killing real servers mails keepalived's real-server DOWN alerts (TCP_CHECK and HTTP_GET
bodies) and the virtual server's lost-quorum alert; bringing them back mails UP and gained quorum; a real
server with `smtp_alert off` never mails."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pykeepalived.lab import lb_lab
from pykeepalived.lab.servers import wait_port
from tests.check.test_checker_daemon import Daemon

VIP = "198.51.100.10"
RS = ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
MAIL = "192.0.2.25"
VS = f"[{VIP}]:tcp:80"

RELAY = r"""
import json, signal, sys
from aiosmtpd.controller import Controller
out = sys.argv[2]
class Handler:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a") as f:
            f.write(json.dumps({"helo": session.host_name, "from": envelope.mail_from,
                                "to": envelope.rcpt_tos, "data": envelope.original_content.decode()}) + "\n")
        return "250 Message accepted"
ctl = Controller(Handler(), hostname=sys.argv[1], port=25)
ctl.start()
signal.sigwait({signal.SIGTERM})
ctl.stop()
"""


def conf_text(d: Path) -> str:
    checks = ["TCP_CHECK {\n        }",
              "HTTP_GET {\n            url {\n                path /\n            }\n        }",
              "TCP_CHECK {\n        }\n        smtp_alert off"]
    rs = "\n".join(f"    real_server {addr} 80 {{\n        {check}\n    }}" for addr, check in zip(RS, checks,
                                                                                               strict=True))
    return f"""global_defs {{
    router_id director
    lvs_dataplane nftables
    notification_email {{
        ops@example.com
        noc@example.com
    }}
    notification_email_from lb@example.com
    smtp_server {MAIL}
    smtp_helo_name director.example.com
    smtp_connect_timeout 5
}}
virtual_server {VIP} 80 {{
    delay_loop 1
    connect_timeout 1
    retry 0
    warmup 0
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 3
    smtp_alert
{rs}
}}
"""


class Mails:
    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self) -> list[tuple[str, str, dict[str, object]]]:
        """(subject, body, envelope) of every message received so far."""
        out = []
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                m = json.loads(line)
                head, _, body = str(m["data"]).partition("\r\n\r\n")
                subj = next(h for h in head.split("\r\n") if h.startswith("Subject: "))[9:]
                out.append((subj, body.strip(), m))
        return out

    def wait(self, n: int, timeout: float = 15) -> list[tuple[str, str]]:
        deadline = time.monotonic() + timeout
        while len(got := self.all()) < n:
            assert time.monotonic() < deadline, f"{len(got)} mails, expected {n}: {got}"
            time.sleep(0.1)
        return [(s, b) for s, b, _ in got]


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("nft") is None, reason="needs root and nft")
def test_checker_smtp_alerts_end_to_end(tmp_path: Path) -> None:
    with lb_lab([*RS, MAIL]) as lab:
        names = {addr: h.ns for addr, h in lab.servers.items()}
        procs: dict[str, subprocess.Popen[bytes]] = {}

        def start(addr: str) -> None:
            procs[addr] = subprocess.Popen(
                ["ip", "netns", "exec", names[addr], sys.executable, "-m", "http.server", "80",
                 "--bind", addr, "--directory", str(tmp_path)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_port(addr, 80, netns=names[addr])

        def kill(addr: str) -> None:
            p = procs.pop(addr)
            p.terminate()
            p.wait(10)

        d = tmp_path / "run"
        d.mkdir()
        (d / "keepalived.conf").write_text(conf_text(d))
        mails = Mails(tmp_path / "mails.jsonl")
        relay = subprocess.Popen(["ip", "netns", "exec", names[MAIL], sys.executable, "-c", RELAY, MAIL,
                                  str(mails.path)])
        daemon = None
        try:
            wait_port(MAIL, 25, netns=names[MAIL])
            for addr in RS:
                start(addr)
            daemon = Daemon(lab.director.ns, d)
            # start-up: the pool is programmed, quorum gained (keepalived's init_service_vs)
            got = mails.wait(1)
            assert got == [(f"[director] Virtualserver {VS} - UP",
                            "=> Starting with quorum up 3+0=3 <= 3 <=")]
            env = mails.all()[0][2]
            assert env["helo"] == "director.example.com" and env["from"] == "lb@example.com"
            assert env["to"] == ["ops@example.com", "noc@example.com"]

            kill(RS[0])  # TCP_CHECK: quorum lost first, then the real server's mail
            assert mails.wait(3)[1:] == [
                (f"[director] Virtualserver {VS} - DOWN", "=> Lost quorum 3+0=3 <= 2 <="),
                (f"[director] Realserver [{RS[0]}]:tcp:80 of virtual server {VS} - DOWN",
                 "=> TCP CHECK failed on service <="),
            ]
            kill(RS[2])  # smtp_alert off: removed without mail
            daemon.wait_for(f"Removing service [{RS[2]}]:tcp:80 from VS {VS}", 15)
            kill(RS[1])  # HTTP_GET
            assert mails.wait(4)[3:] == [
                (f"[director] Realserver [{RS[1]}]:tcp:80 of virtual server {VS} - DOWN",
                 "=> CHECK failed on service : HTTP request failed <=")]

            for addr in RS:
                start(addr)
            got = mails.wait(7)[4:]  # in the order the checkers happen to see them come back
            assert sorted(got) == sorted([
                (f"[director] Realserver [{RS[0]}]:tcp:80 of virtual server {VS} - UP",
                 "=> TCP CHECK succeed on service <="),
                (f"[director] Realserver [{RS[1]}]:tcp:80 of virtual server {VS} - UP",
                 "=> CHECK succeed on service <="),
                (f"[director] Virtualserver {VS} - UP", "=> Gained quorum 3+0=3 <= 3 <="),
            ])
            daemon.wait_for(f"Adding service [{RS[2]}]:tcp:80 to VS {VS}", 15)

            daemon.proc.send_signal(signal.SIGTERM)  # no omega: no shutdown mails
            assert daemon.proc.wait(20) == 0
            final = mails.all()
            assert len(final) == 7, final
            assert not any(RS[2] in s for s, _, _ in final)
        finally:
            if daemon is not None and daemon.proc.poll() is None:
                daemon.proc.kill()
                daemon.proc.wait()
            for p in procs.values():
                p.kill()
                p.wait()
            relay.terminate()
            relay.wait(10)
