"""SMTP alerts against a real aiosmtpd server on 127.0.0.1, and an unreachable one."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from pykeepalived.notify.scripts import Notifier, NotifyScripts
from pykeepalived.notify.smtp import SmtpAlerter, SmtpSettings, build_message


class Recorder:
    def __init__(self, reject_rcpt: str | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.reject_rcpt = reject_rcpt

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address == self.reject_rcpt:
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(
            {
                "helo": session.host_name,
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "data": envelope.original_content,
            }
        )
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtpd() -> Iterator[tuple[Recorder, int]]:
    rec = Recorder(reject_rcpt="bad@example.com")
    port = free_port()
    ctl = Controller(rec, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield rec, port
    finally:
        ctl.stop()


def settings(port: int, emails: tuple[str, ...] = ("ops@example.com", "noc@example.com")) -> SmtpSettings:
    return SmtpSettings(
        server="127.0.0.1",
        port=port,
        emails=emails,
        email_from="keepalived@lb1.example.com",
        router_id="LVS_DEVEL",
        helo_name="lb1.example.com",
        connect_timeout_s=2,
    )


def test_instance_alert_delivered(smtpd: tuple[Recorder, int]) -> None:
    rec, port = smtpd

    async def go() -> None:
        n = Notifier(smtp=SmtpAlerter(settings(port)))
        sc = NotifyScripts(smtp_alert=True)
        n.instance("VI_1", "MASTER", 100, sc)
        n.instance("VI_1", "MASTER", 100, sc)  # same state again: no second mail
        n.group("G1", "BACKUP", sc)
        await n.flush()
        await n.close(timeout_s=5)

    asyncio.run(go())
    assert len(rec.messages) == 2
    m = rec.messages[0]
    assert m["helo"] == "lb1.example.com"
    assert m["from"] == "keepalived@lb1.example.com"
    assert m["to"] == ["ops@example.com", "noc@example.com"]
    text = m["data"].decode()
    headers, _, body = text.partition("\r\n\r\n")
    hl = headers.split("\r\n")
    assert hl[0].startswith("Date: ")
    assert hl[1:] == [
        "From: keepalived@lb1.example.com",
        "Subject: [LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state",
        "X-Mailer: Keepalived",
        "To: ops@example.com, noc@example.com",
    ]
    assert body == "=> VRRP Instance is now owning VRRP VIPs <=\r\n\r\n"
    g = rec.messages[1]["data"].decode()
    assert "Subject: [LVS_DEVEL] VRRP Group G1 - Entering BACKUP state\r\n" in g
    assert "=> All VRRP group instances are now in BACKUP state <=" in g


def test_message_format() -> None:
    msg = build_message(settings(25, ("a@x",)), "S", ".dot line", when=0).decode()
    assert msg.endswith("\r\n\r\n.dot line\r\n\r\n")


def test_rejected_recipient_logged(smtpd: tuple[Recorder, int], caplog: pytest.LogCaptureFixture) -> None:
    rec, port = smtpd
    caplog.set_level("INFO", logger="pykeepalived")

    async def go() -> bool:
        a = SmtpAlerter(settings(port, ("bad@example.com",)))
        return await a.send("s", "b")

    assert asyncio.run(go()) is False
    assert rec.messages == []
    assert f"Error processing RCPT cmd on SMTP server [127.0.0.1]:{port}. SMTP status code = 550" in [
        r.getMessage() for r in caplog.records
    ]


def test_unreachable_server_logged_promptly(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="pykeepalived")
    port = free_port()  # nothing listens there

    async def go() -> tuple[float, float]:
        a = SmtpAlerter(settings(port))
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        task = a.alert("subj", "body")
        queued = loop.time() - t0  # alert() itself returns at once
        assert task is not None
        assert await task is False
        return queued, loop.time() - t0

    queued, total = asyncio.run(go())
    assert queued < 0.05 and total < 2.0
    assert f"SMTP connection ERROR to [127.0.0.1]:{port}." in [r.getMessage() for r in caplog.records]


def test_connect_timeout_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A server that accepts TCP but never greets: the reply wait is bounded by the timeout."""
    caplog.set_level("INFO", logger="pykeepalived")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        s = SmtpSettings(
            server="127.0.0.1",
            port=port,
            emails=("a@x",),
            email_from="f@x",
            router_id="r",
            connect_timeout_s=0.5,
        )
        t0 = time.monotonic()
        ok = asyncio.run(SmtpAlerter(s).send("s", "b"))
        elapsed = time.monotonic() - t0
    finally:
        srv.close()
    assert ok is False and elapsed < 2.0
    msgs = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Timeout") and f"[127.0.0.1]:{port}" in m for m in msgs), msgs
