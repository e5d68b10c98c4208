# Theory of operation
# -------------------
# SMTP alerts of the checker process (keepalived.md §1.2.2, §1.12.3, §1.12.4; keepalived 2.2.7
# core/smtp.c smtp_alert, check/ipwrapper.c do_vs_notifies / clear_service_rs, the *_epilog functions
# of check/check_*.c). Everything here is pure: it decides *whether* keepalived would mail and *what*
# the subject and body are. Sending is notify/smtp.py's SmtpAlerter (the VRRP child's client).
#
# Which flag applies (check_data.c, after the configuration is read): a virtual_server's or
# real_server's own `smtp_alert`, else global `smtp_alert_checker`, else global `smtp_alert`, else
# false for a virtual server and *true* for a real server.
#
# When keepalived mails:
# - a real server, when one of its checkers changes state: UP when a checker that was down (alpha)
#   succeeds, DOWN when a checker that was up fails after its retries. MISC_CHECK mails on every
#   verdict it logs, including the first success of a checker that starts up. Unless the real
#   server's own alive state changed, `no_checker_emails` suppresses it. FILE_CHECK never mails.
#   Subject `[router_id] Realserver RS of virtual server VS - UP|DOWN` (the server's alive state
#   after the change), body the checker's own text, e.g. `=> TCP CHECK failed on service <=`;
# - a virtual server when its quorum is gained or lost: `[router_id] Virtualserver VS - UP|DOWN`,
#   body `=> Lost quorum Q+H=T <= W <=` (keepalived prints `+` and `<=` in every variant);
#   at start-up only when it starts with quorum down and has a sorry server;
# - at shutdown with `omega`: each live real server and the virtual server, body
#   `=> Shutting down <=`.
"""The checker's smtp_alert messages, as keepalived builds them (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pykeepalived.notify.smtp import SmtpAlerter

MAX_HEADERS_LENGTH = 256  # smtp.h (as notify/smtp.py; not imported: this module stays free of I/O)


@dataclass(frozen=True, slots=True)
class CheckerMail:
    """One alert: about real server `rs` of virtual server `vs`, or about `vs` itself (rs None)."""

    vs: str  # FMT_VS
    rs: str | None  # FMT_RS
    state: str  # "UP" | "DOWN"
    body: str


def smtp_alert_flag(own: bool | None, smtp_alert_checker: bool | None, smtp_alert: bool | None,
                    default: bool) -> bool:
    """The effective `smtp_alert` of a virtual server (default False) or real server (default True)."""
    for v in (own, smtp_alert_checker, smtp_alert):
        if v is not None:
            return v
    return default


# check_*.c: the bodies each checker passes to smtp_alert (SSL_GET is check_http.c too)
_UP_BODY = {
    "TCP_CHECK": "=> TCP CHECK succeed on service <=",
    "HTTP_GET": "=> CHECK succeed on service <=",
    "SSL_GET": "=> CHECK succeed on service <=",
    "SMTP_CHECK": "=> CHECK succeed on service <=",
    "DNS_CHECK": "=> DNS_CHECK: succeed on service <=",
    "UDP_CHECK": "=> UDP CHECK succeed on service <=",
    "PING_CHECK": "=> ICMP CHECK succeed on service <=",
}
_DOWN_BODY = {
    "TCP_CHECK": "=> TCP CHECK failed on service <=",
    "HTTP_GET": "=> CHECK failed on service : HTTP request failed <=",
    "SSL_GET": "=> CHECK failed on service : HTTP request failed <=",
    "SMTP_CHECK": "=> CHECK failed on service <=",
    "DNS_CHECK": "=> DNS_CHECK: failed on service <=",
    "UDP_CHECK": "=> UDP CHECK failed on service <=",
    "PING_CHECK": "=> ICMP CHECK failed on service <=",
}
SMTP_CHECK_PREFIX = "SMTP_CHECK "
MISC_BODY_LEN = 40  # check_misc.c: char message[40]


def checker_body(kind: str, up: bool, reason: str | None = None) -> str | None:
    """The body a checker of `kind` mails when it turns up / down; None for checkers that never mail."""
    if kind == "MISC_CHECK":
        how = "succeeded" if up else "timed out" if reason and reason.rstrip(".").endswith("timed out") \
            else "failed"
        return f"=> MISC CHECK {how} on service <="[: MISC_BODY_LEN - 1]
    if kind == "SMTP_CHECK" and not up and reason:  # check_smtp.c smtp_final: the failure's own text
        return f"=> CHECK failed on service : {reason.removeprefix(SMTP_CHECK_PREFIX)} <="
    return (_UP_BODY if up else _DOWN_BODY).get(kind)


def checker_mail(kind: str, vs: str, rs: str, *, checker_was_up: bool, up: bool, rs_was_alive: bool,
                 rs_alive: bool, smtp_alert: bool, no_checker_emails: bool,
                 reason: str | None = None) -> CheckerMail | None:
    """The mail after a checker's verdict `up` (None when keepalived sends none)."""
    if not smtp_alert:
        return None
    if kind != "MISC_CHECK" and checker_was_up == up:  # not a change of the checker's state
        return None
    if no_checker_emails and rs_was_alive == rs_alive:
        return None
    body = checker_body(kind, up, reason)
    if body is None:
        return None
    return CheckerMail(vs, rs, "UP" if rs_alive else "DOWN", body)


def quorum_body(up: bool, init: bool, quorum: int, hysteresis: int, threshold: int, weight_sum: int) -> str:
    """ipwrapper.c do_vs_notifies."""
    what = ("Starting with quorum up" if init else "Gained quorum") if up else \
        ("Starting with quorum down" if init else "Lost quorum")
    return f"=> {what} {quorum}+{hysteresis}={threshold} <= {weight_sum} <="


SHUTDOWN_BODY = "=> Shutting down <="
REMOVING_BODY = "=> Removing <="


def subject(router_id: str, mail: CheckerMail) -> str:
    """smtp.c smtp_alert: SMTP_MSG_RS / SMTP_MSG_RS_SHUT and SMTP_MSG_VS subjects."""
    if mail.rs is not None:
        text = f"[{router_id}] Realserver {mail.rs} of virtual server {mail.vs} - {mail.state}"
    else:
        text = f"[{router_id}] Virtualserver {mail.vs} - {mail.state}"
    return text[: MAX_HEADERS_LENGTH - 1]


class CheckerMailer:
    """The checker runtime's `mail` callback: each CheckerMail through the SmtpAlerter (built by
    daemon/trackers.py smtp_alerter; None when smtp_server or notification_email is missing)."""

    def __init__(self, alerter: SmtpAlerter | None) -> None:
        self.alerter = alerter

    def __call__(self, mail: CheckerMail) -> None:
        a = self.alerter
        if a is not None and a.settings is not None:
            a.alert(subject(a.settings.router_id, mail), mail.body)

    async def drain(self, timeout_s: float) -> None:
        """Let the mails in flight finish (shutdown), for at most `timeout_s`."""
        if self.alerter is not None:
            await self.alerter.drain(timeout_s)
