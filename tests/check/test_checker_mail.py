"""The checker's smtp_alert decisions, purely (notify/checker_mail.py; keepalived 2.2.7 check_data.c flag
resolution, check_*.c epilogs, ipwrapper.c do_vs_notifies / clear_service_rs, smtp.c subjects)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from pykeepalived.check.from_config import services_from_model
from pykeepalived.check.model import MiscCheckSpec, RealServerSpec, TcpCheckSpec, VirtualServerSpec
from pykeepalived.check.probes import ProbeResult
from pykeepalived.check.scheduler import CheckerRuntime
from pykeepalived.check.state import VirtualServerState
from pykeepalived.config import load_config
from pykeepalived.lvs.model import Protocol, ServiceKey
from pykeepalived.notify.checker_mail import (
    CheckerMail,
    checker_body,
    checker_mail,
    smtp_alert_flag,
    subject,
)

VS_KEY = ServiceKey(4, Protocol.TCP, "203.0.113.10", 80)
VS = "[203.0.113.10]:tcp:80"
RS1 = "[192.0.2.11]:tcp:80"


@pytest.mark.parametrize(("own", "checker", "glob", "default", "want"), [
    (None, None, None, False, False),  # virtual server: off unless asked for
    (None, None, None, True, True),  # real server: on by default (keepalived.md §1.12.4)
    (None, None, True, False, True),  # global smtp_alert
    (None, False, True, True, False),  # smtp_alert_checker beats smtp_alert
    (True, False, False, False, True),  # the object's own keyword beats both
    (False, True, True, True, False),
])
def test_flag_precedence(own: bool | None, checker: bool | None, glob: bool | None, default: bool,
                         want: bool) -> None:
    assert smtp_alert_flag(own, checker, glob, default) is want


def _flags(tmp_path: Path, global_lines: str, vs_line: str = "", rs_lines: tuple[str, str] = ("", "")
           ) -> tuple[bool, list[bool]]:
    conf = tmp_path / "k.conf"
    rs = "\n".join(f"""  real_server 192.0.2.{11 + i} 80 {{
    {line}
    TCP_CHECK {{
    }}
  }}""" for i, line in enumerate(rs_lines))
    conf.write_text(f"""global_defs {{
{global_lines}
}}
virtual_server 203.0.113.10 80 {{
  lb_algo rr
  lb_kind NAT
  protocol TCP
  {vs_line}
{rs}
}}
""")
    model, diags = load_config(str(conf), None, False)
    assert not diags, diags
    spec = services_from_model(model).services[0]
    return spec.smtp_alert, [r.smtp_alert for r in spec.real_servers]


def test_flags_from_configuration(tmp_path: Path) -> None:
    assert _flags(tmp_path, "") == (False, [True, True])
    assert _flags(tmp_path, "smtp_alert") == (True, [True, True])
    assert _flags(tmp_path, "smtp_alert\nsmtp_alert_checker off") == (False, [False, False])
    assert _flags(tmp_path, "smtp_alert off", "smtp_alert", ("smtp_alert on", "")) == (True, [True, False])
    assert _flags(tmp_path, "smtp_alert_vrrp on", "", ("", "smtp_alert off")) == (False, [True, False])


def test_bodies_and_subjects() -> None:
    assert checker_body("TCP_CHECK", False) == "=> TCP CHECK failed on service <="
    assert checker_body("HTTP_GET", False) == "=> CHECK failed on service : HTTP request failed <="
    assert checker_body("SSL_GET", True) == "=> CHECK succeed on service <="
    assert checker_body("DNS_CHECK", True) == "=> DNS_CHECK: succeed on service <="
    assert checker_body("PING_CHECK", False) == "=> ICMP CHECK failed on service <="
    assert checker_body("SMTP_CHECK", False, "SMTP_CHECK Connection timeout to server [192.0.2.11]:25") == \
        "=> CHECK failed on service : Connection timeout to server [192.0.2.11]:25 <="
    assert checker_body("MISC_CHECK", False, "Misc check for [x] by [y] timed out.") == \
        "=> MISC CHECK timed out on service <="
    assert checker_body("MISC_CHECK", False, "... failed (exited with status 1).") == \
        "=> MISC CHECK failed on service <="
    assert checker_body("FILE_CHECK", False) is None
    assert subject("LVS_A", CheckerMail(VS, RS1, "DOWN", "b")) == \
        f"[LVS_A] Realserver {RS1} of virtual server {VS} - DOWN"
    assert subject("LVS_A", CheckerMail(VS, None, "UP", "b")) == f"[LVS_A] Virtualserver {VS} - UP"
    assert len(subject("x" * 300, CheckerMail(VS, None, "UP", "b"))) == 255


def _mail(kind: str = "TCP_CHECK", **kw: bool) -> CheckerMail | None:
    args = dict(checker_was_up=True, up=False, rs_was_alive=True, rs_alive=False, smtp_alert=True,
                no_checker_emails=False)
    args.update(kw)
    return checker_mail(kind, VS, RS1, **args)  # type: ignore[arg-type]


def test_when_a_real_server_mail_is_sent() -> None:
    assert _mail() == CheckerMail(VS, RS1, "DOWN", "=> TCP CHECK failed on service <=")
    assert _mail(smtp_alert=False) is None
    assert _mail(checker_was_up=False) is None  # an alpha checker's first failure: no change, no mail
    assert _mail(checker_was_up=False, up=True, rs_was_alive=False, rs_alive=True) == \
        CheckerMail(VS, RS1, "UP", "=> TCP CHECK succeed on service <=")
    # a second checker of a server already down: mailed unless no_checker_emails; subject says DOWN
    assert _mail(rs_was_alive=False) == CheckerMail(VS, RS1, "DOWN", "=> TCP CHECK failed on service <=")
    assert _mail(rs_was_alive=False, no_checker_emails=True) is None
    assert _mail(no_checker_emails=True) is not None  # the server itself changed
    # MISC_CHECK mails every verdict it logs, even the first success of a checker that starts up
    assert _mail("MISC_CHECK", up=True, rs_alive=True) == \
        CheckerMail(VS, RS1, "UP", "=> MISC CHECK succeeded on service <=")
    assert _mail("MISC_CHECK", up=True, rs_alive=True, no_checker_emails=True) is None


def _vs(**kw: object) -> VirtualServerSpec:
    rss = tuple(RealServerSpec(addr=f"192.0.2.{11 + i}", port=80, checks=(TcpCheckSpec(),), smtp_alert=i != 2)
                for i in range(3))
    base: dict[str, object] = dict(key=VS_KEY, real_servers=rss, quorum=3, smtp_alert=True)
    base.update(kw)
    return VirtualServerSpec(**base)  # type: ignore[arg-type]


def mails(fx: list) -> list[CheckerMail]:
    return [e for e in fx if isinstance(e, CheckerMail)]


def test_quorum_mails() -> None:
    st = VirtualServerState(_vs(hysteresis=1, quorum=2))
    assert mails(st.start()) == [CheckerMail(VS, None, "UP", "=> Starting with quorum up 2+1=3 <= 3 <=")]
    assert mails(st.checker_result(0, 0, False)) == []
    assert mails(st.checker_result(1, 0, False)) == []  # 1 is not below 2-1
    # lost: keepalived prints the threshold quorum-hysteresis after `Q+H=`
    assert mails(st.checker_result(2, 0, False)) == [
        CheckerMail(VS, None, "DOWN", "=> Lost quorum 2+1=1 <= 0 <=")]
    assert mails(st.checker_result(0, 0, True)) == []
    assert mails(st.checker_result(1, 0, True)) == []  # 2 is below 2+1
    assert mails(st.checker_result(2, 0, True)) == [
        CheckerMail(VS, None, "UP", "=> Gained quorum 2+1=3 <= 3 <=")]
    assert mails(VirtualServerState(_vs(smtp_alert=False)).start()) == []


def test_start_with_quorum_down_mails_only_with_a_sorry_server() -> None:
    down = {0: {0}, 1: {0}, 2: {0}}
    assert VirtualServerState(_vs(), down).start() == []
    st = VirtualServerState(_vs(sorry_server=RealServerSpec(addr="192.0.2.20", port=80)), down)
    assert mails(st.start()) == [CheckerMail(VS, None, "DOWN", "=> Starting with quorum down 3+0=3 <= 0 <=")]


def test_shutdown_mails_only_with_omega() -> None:
    st = VirtualServerState(_vs())
    st.start()
    assert mails(st.shutdown()) == []
    st = VirtualServerState(_vs(omega=True))
    st.start()
    assert mails(st.shutdown()) == [CheckerMail(VS, RS1, "DOWN", "=> Shutting down <="),
                                    CheckerMail(VS, "[192.0.2.12]:tcp:80", "DOWN", "=> Shutting down <="),
                                    CheckerMail(VS, None, "DOWN", "=> Shutting down <=")]


def test_runtime_mails_checker_transitions_after_the_quorum_mail() -> None:
    sent: list[CheckerMail] = []
    spec = _vs(quorum=3)

    async def go() -> None:
        rt = CheckerRuntime([spec], None, mail=sent.append, run_script=lambda _: None)
        rt._build()
        for st in rt.states:
            rt._run_effects(st.start())
        c0, c2 = rt.checkers[0], rt.checkers[2]
        rt.feed(c0, ProbeResult(True))  # first success of a checker that starts up: no mail
        sent.clear()
        for _ in range(2):  # retry 1 (TCP_CHECK default): the second failure is the verdict
            rt.feed(c0, ProbeResult(False, "TCP connection to [192.0.2.11]:tcp:80 failed."))
        rt.feed(c2, ProbeResult(False))
        rt.feed(c2, ProbeResult(False))  # RS 3 has smtp_alert off
        rt.feed(c0, ProbeResult(True))

    asyncio.run(go())
    assert sent == [
        CheckerMail(VS, None, "DOWN", "=> Lost quorum 3+0=3 <= 2 <="),
        CheckerMail(VS, RS1, "DOWN", "=> TCP CHECK failed on service <="),
        CheckerMail(VS, RS1, "UP", "=> TCP CHECK succeed on service <="),
    ]


def test_misc_check_first_success_mails() -> None:
    sent: list[CheckerMail] = []
    rs = RealServerSpec(addr="192.0.2.11", port=80, checks=(MiscCheckSpec(misc_path="/bin/true"),),
                        smtp_alert=True)
    spec = VirtualServerSpec(key=VS_KEY, real_servers=(rs,))

    async def go() -> None:
        rt = CheckerRuntime([spec], None, mail=sent.append)
        rt._build()
        rt.feed(rt.checkers[0], ProbeResult(True))
        rt.no_checker_emails = True
        rt.feed(rt.checkers[0], ProbeResult(False, "Misc check for [x] by [y] timed out."))

    asyncio.run(go())
    assert sent == [CheckerMail(VS, RS1, "UP", "=> MISC CHECK succeeded on service <="),
                    CheckerMail(VS, RS1, "DOWN", "=> MISC CHECK timed out on service <=")]


def test_reload_mails_live_servers_it_drops() -> None:
    sent: list[CheckerMail] = []
    spec = _vs(quorum=1)  # without checkers: nothing probes from this namespace
    spec = replace(spec, real_servers=tuple(replace(r, checks=()) for r in spec.real_servers))

    async def go() -> None:
        rt = CheckerRuntime([spec], None, mail=sent.append, run_script=lambda _: None)
        await rt.start()
        sent.clear()
        await rt.reload([replace(spec, real_servers=spec.real_servers[2:])])
        await rt.stop()

    asyncio.run(go())
    assert sent == [CheckerMail(VS, RS1, "DOWN", "=> Removing <="),
                    CheckerMail(VS, "[192.0.2.12]:tcp:80", "DOWN", "=> Removing <=")]
