# Theory of operation
# -------------------
# SMTP alerts (keepalived.md §1.2.2; keepalived core/smtp.c, vrrp/vrrp_notify.c). keepalived has
# its own small SMTP client; we drive aiosmtplib through the same dialogue: connect, wait for the
# 220 greeting, `HELO smtp_helo_name` (HELO, not EHLO; no STARTTLS), `MAIL FROM:<from>`, one
# `RCPT TO:<addr>` per notification_email, `DATA`, then keepalived's message:
#
#   Date: <RFC 822 local time>\r\nFrom: <from>\r\nSubject: [router_id] VRRP Instance VI_1 -
#   Entering MASTER state\r\nX-Mailer: Keepalived\r\nTo: a@x, b@y\r\n\r\n<body>\r\n\r\n.\r\n
#
# and QUIT. Every alert is an independent asyncio task: nothing waits for it, the connect and
# each reply are bounded by smtp_connect_timeout, and failures are only logged with keepalived's
# texts ("SMTP connection ERROR to [ADDR]:PORT.",
# "Timeout opening connection to remote SMTP server [ADDR]:PORT.",
# "Error processing RCPT cmd on SMTP server [ADDR]:PORT. SMTP status code = 550", ...).
# Subjects/bodies for VRRP instances and groups follow vrrp_notify.c (vrrp_smtp_notifier).
"""SMTP alerts in keepalived's form, sent asynchronously with aiosmtplib."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # aiosmtplib and email load only when an alert is sent (child memory)
    import aiosmtplib


log = logging.getLogger("pykeepalived.notify")

# vrrp_notify.c: vrrp_smtp_notifier / vrrp_sync_smtp_notifier -- state -> (subject, body)
INSTANCE_ALERTS = {
    "MASTER": ("Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="),
    "BACKUP": ("Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    "FAULT": ("Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    "STOP": ("Stopping", "=> VRRP Instance stopping <="),
    "DELETED": ("Deleted", "=> VRRP Deleted at reload <="),
}
GROUP_ALERTS = {
    "MASTER": ("Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="),
    "BACKUP": ("Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <="),
    "FAULT": ("Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="),
    "STOP": ("Stopping", "=> All VRRP group instances are now stopping <="),
}

MAX_HEADERS_LENGTH = 256  # smtp.h: subject buffer (incl. NUL)
MAX_BODY_LENGTH = 512


def default_router_id() -> str:
    """keepalived's default router_id / helo name: the canonical host name."""
    node = socket.gethostname()
    try:
        info = socket.getaddrinfo(node, None, flags=socket.AI_CANONNAME)
        if info and info[0][3]:
            return info[0][3]
    except OSError:
        pass
    return node


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """global_defs email settings, as plain values."""

    server: str  # smtp_server host name or address
    emails: tuple[str, ...]  # notification_email
    email_from: str  # notification_email_from
    router_id: str
    port: int = 25
    helo_name: str = "localhost"
    connect_timeout_s: float = 30.0
    no_email_faults: bool = False

    @property
    def server_display(self) -> str:
        """`[ADDR]:PORT` as keepalived's inet_sockaddrtopair."""
        return f"[{self.server}]:{self.port}"


def build_message(settings: SmtpSettings, subject: str, body: str, when: float | None = None) -> bytes:
    """The DATA payload keepalived sends (smtp.h: SMTP_HEADERS_CMD SMTP_BODY_CMD), minus the final '.'"""
    import email.utils

    date = email.utils.formatdate(when, localtime=True)
    to = ", ".join(settings.emails)
    text = (
        f"Date: {date}\r\nFrom: {settings.email_from}\r\nSubject: {subject}\r\n"
        f"X-Mailer: Keepalived\r\nTo: {to}\r\n\r\n{body}\r\n\r\n"
    )
    return text.encode("utf-8", "replace")


def instance_subject(router_id: str, name: str, state: str) -> tuple[str, str] | None:
    alert = INSTANCE_ALERTS.get(state)
    if alert is None:
        return None
    return f"[{router_id}] VRRP Instance {name} - {alert[0]}"[: MAX_HEADERS_LENGTH - 1], alert[1]


def group_subject(router_id: str, name: str, state: str) -> tuple[str, str] | None:
    alert = GROUP_ALERTS.get(state)
    if alert is None:
        return None
    return f"[{router_id}] VRRP Group {name} - {alert[0]}"[: MAX_HEADERS_LENGTH - 1], alert[1]


class _Stage(Exception):
    def __init__(self, cmd: str, code: int) -> None:
        super().__init__(cmd, code)
        self.cmd = cmd
        self.code = code


class SmtpAlerter:
    """Queues alerts as background tasks; `drain()` waits for the ones in flight (tests, shutdown)."""

    def __init__(self, settings: SmtpSettings | None) -> None:
        self.settings = settings
        self._tasks: set[asyncio.Task[bool]] = set()
        self._last_state: dict[tuple[str, str], str] = {}
        self.sent = 0
        self.failed = 0

    @property
    def enabled(self) -> bool:
        s = self.settings
        return s is not None and bool(s.emails) and bool(s.server)

    def alert(self, subject: str, body: str) -> asyncio.Task[bool] | None:
        """Send one mail in the background (smtp.c: smtp_alert). None if mail is not configured."""
        if not self.enabled:
            return None
        task = asyncio.get_running_loop().create_task(self.send(subject, body[: MAX_BODY_LENGTH - 1]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _transition(self, kind: str, name: str, state: str, subject_body: tuple[str, str] | None) -> None:
        assert self.settings is not None
        if subject_body is None:
            return
        if self.settings.no_email_faults and state == "FAULT":
            return
        if self._last_state.get((kind, name)) == state:  # keepalived: last_email_state
            return
        self._last_state[(kind, name)] = state
        self.alert(*subject_body)

    def instance_transition(self, name: str, state: str) -> None:
        """Mail for a vrrp_instance entering `state` (only for instances with smtp_alert on)."""
        if self.enabled:
            assert self.settings is not None
            self._transition("i", name, state, instance_subject(self.settings.router_id, name, state))

    def group_transition(self, name: str, state: str) -> None:
        if self.enabled:
            assert self.settings is not None
            self._transition("g", name, state, group_subject(self.settings.router_id, name, state))

    async def drain(self, timeout_s: float | None = None) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)

    async def send(self, subject: str, body: str) -> bool:
        """Run one SMTP dialogue; never raises, logs failures as keepalived. True if accepted."""
        s = self.settings
        assert s is not None
        where = s.server_display
        import aiosmtplib

        client = aiosmtplib.SMTP(
            hostname=s.server,
            port=s.port,
            timeout=s.connect_timeout_s,
            local_hostname=s.helo_name,
            use_tls=False,
            start_tls=False,
        )
        try:
            try:
                await client.connect()
            except aiosmtplib.SMTPConnectTimeoutError:
                log.info("Timeout opening connection to remote SMTP server %s.", where)
                self.failed += 1
                return False
            except aiosmtplib.SMTPConnectResponseError as e:
                raise _Stage("(E)SMTP", e.code) from None
            except (aiosmtplib.SMTPConnectError, OSError):
                log.info("SMTP connection ERROR to %s.", where)
                self.failed += 1
                return False
            await self._dialogue(client, s, subject, body)
        except _Stage as e:
            log.info("Error processing %s cmd on SMTP server %s. SMTP status code = %d", e.cmd, where, e.code)
            await self._quit(client)
            self.failed += 1
            return False
        except aiosmtplib.SMTPTimeoutError:
            log.info("Timeout reading data to remote SMTP server %s.", where)
            await self._quit(client)
            self.failed += 1
            return False
        except aiosmtplib.SMTPServerDisconnected:
            log.info("Remote SMTP server %s has closed the connection.", where)
            self.failed += 1
            return False
        except (aiosmtplib.SMTPException, OSError) as e:
            log.info("Error reading data from remote SMTP server %s. (%s)", where, e)
            client.close()
            self.failed += 1
            return False
        log.debug("SMTP alert successfully sent.")
        self.sent += 1
        await self._quit(client)
        return True

    @staticmethod
    async def _quit(client: aiosmtplib.SMTP) -> None:
        import aiosmtplib

        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    @staticmethod
    async def _dialogue(client: aiosmtplib.SMTP, s: SmtpSettings, subject: str, body: str) -> None:
        import aiosmtplib

        async def step(cmd: str, coro: object, expected: int) -> None:
            try:
                resp = await coro  # type: ignore[misc]
                code = resp.code
            except aiosmtplib.SMTPResponseException as e:
                code = e.code
            if code != expected:
                raise _Stage(cmd, code)

        await step("HELO", client.helo(hostname=s.helo_name), 250)
        await step("MAIL", client.mail(s.email_from), 250)
        for rcpt in s.emails:
            await step("RCPT", client.rcpt(rcpt), 250)
        # DATA, 354, the dot-stuffed message and its "." terminator, 250 (aiosmtplib does both
        # steps; a refusal at either is reported as the DATA command)
        await step("DATA", client.data(build_message(s, subject, body)), 250)


def parse_smtp_server(words: Sequence[str]) -> tuple[str, int]:
    """`smtp_server HOST|IP [PORT]` -> (host, port)."""
    host = words[0]
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        pass
    return host, int(words[1]) if len(words) > 1 else 25
