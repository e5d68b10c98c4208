"""Notify FIFO, FIFO script and SMTP alerts through the running daemon (keepalived 2.2.7 and pykeepalived)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, dump_logs, instance_conf, wait_for
from tests.fidelity.test_sync_group_daemon import FifoReader

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

VIP = "192.0.2.100"
SINK = str(Path(__file__).with_name("smtp_sink.py"))


def smtp_server(lab: Lab, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    client = lab["client"]
    proc = client.popen([sys.executable, SINK, str(client.ipv4), "2525", str(out), *extra])
    wait_for(out.exists, 10)
    return proc


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_fifo_lines_fifo_script_and_mail_on_master(lab: Lab, nodes: list[Node], impl: str) -> None:
    n = Node(lab["n1"], "", impl=impl)
    d = n.dir
    (d / "fifo_script.sh").write_text(
        f"#!/bin/sh\necho \"$@\" > {d}/script_args\nexec cat \"$1\" >> {d}/script_lines\n")
    (d / "fifo_script.sh").chmod(0o755)
    mails = d / "mails.jsonl"
    srv = smtp_server(lab, mails)
    try:
        n.conf.write_text(instance_conf(prio=150, globals_=f"""
    notify_fifo {d}/fifo
    vrrp_notify_fifo {d}/vfifo
    vrrp_notify_fifo_script {d}/fifo_script.sh
    notification_email {{
        ops@example.com
    }}
    notification_email_from ka@example.com
    smtp_server {lab['client'].ipv4} 2525
    smtp_connect_timeout 5
    smtp_alert
""", extra="    notify_priority_changes\n"))
        nodes.append(n)
        fifo = FifoReader(d / "fifo")
        try:
            n.start()
            wait_for(lambda: n.has(VIP), 15)
            wait_for(lambda: any("MASTER" in m for m in mails.read_text().splitlines()), 10)
            wait_for(lambda: 'INSTANCE "VI_1" MASTER 150' in fifo.lines, 5)
        finally:
            fifo.close()
        assert fifo.lines == ['INSTANCE "VI_1" BACKUP 150', 'INSTANCE "VI_1" MASTER 150'], dump_logs(n)
        wait_for(lambda: (d / "script_lines").exists() and "MASTER" in (d / "script_lines").read_text(), 5)
        assert (d / "script_args").read_text().split() == [f"{d}/vfifo"]
        assert (d / "script_lines").read_text().splitlines() == fifo.lines
        msgs = [json.loads(line) for line in mails.read_text().splitlines()]
        master = [m for m in msgs if "MASTER" in m["data"]]
        assert len(master) == 1
        assert master[0]["from"] == "ka@example.com" and master[0]["to"] == ["ops@example.com"]
        headers, _, body = master[0]["data"].partition("\r\n\r\n")
        assert headers.split("\r\n")[1:] == [
            "From: ka@example.com", "Subject: [VI_1_node] VRRP Instance VI_1 - Entering MASTER state",
            "X-Mailer: Keepalived", "To: ops@example.com"]
        assert headers.startswith("Date: ")
        assert body == "=> VRRP Instance is now owning VRRP VIPs <=\r\n\r\n"
    finally:
        srv.kill()
        srv.wait()


def test_hanging_smtp_server_never_delays_adverts(lab: Lab, nodes: list[Node]) -> None:
    """The SMTP server accepts and never greets: mails wait their timeout, adverts keep their schedule."""
    log = Path(lab["client"].run(["mktemp"]).strip())
    srv = smtp_server(lab, log, "--hang")
    mail = f"""
    notification_email {{
        ops@example.com
    }}
    smtp_server {lab['client'].ipv4} 2525
    smtp_connect_timeout 30
    smtp_alert
"""
    try:
        a = Node(lab["n1"], instance_conf(prio=150, advert="0.2", version=3, globals_=mail)).start()
        nodes.append(a)
        wait_for(lambda: a.has(VIP), 15)
        b = Node(lab["n2"], instance_conf(prio=100, advert="0.2", version=3, globals_=mail)).start()
        nodes.append(b)
        wait_for(lambda: "(VI_1) Entering BACKUP STATE" in b.logs(), 15)
        # priority changes and transitions keep queueing mails to the hanging server meanwhile
        time.sleep(4)
        assert "Entering MASTER STATE" not in b.logs(), dump_logs(a, b)
        assert a.has(VIP) and not b.has(VIP)
    finally:
        srv.kill()
        srv.wait()
