"""The checker child's reload as keepalived 2.2.7's clear_diff_services (check/ipwrapper.c): the lines,
notify scripts, FIFO lines and mails for virtual and real servers a new file drops, and which running
virtual server a new one is (vs_iseq). keepalived's checker child cannot run in this kernel (no IPVS),
so these are checked against its source; the data plane the runtime programs is the nftables one."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest

from pykeepalived.check.model import RealServerSpec, VirtualServerSpec
from pykeepalived.check.scheduler import CheckerRuntime
from pykeepalived.lvs.model import Protocol, ServiceKey
from pykeepalived.notify.checker_mail import CheckerMail

KEY = ServiceKey(4, Protocol.TCP, "203.0.113.10", 80)
VS = "[203.0.113.10]:tcp:80"


def _rs(n: int, **kw: object) -> RealServerSpec:  # no checker: nothing probes from this namespace
    return RealServerSpec(addr=f"192.0.2.{n}", port=80, checks=(), notify_down=f"/bin/down{n}",
                          smtp_alert=True, **kw)  # type: ignore[arg-type]


SPEC = VirtualServerSpec(key=KEY, real_servers=(_rs(11), _rs(12), _rs(13, inhibit_on_failure=True)),
                         quorum=2, quorum_down="/bin/qdown")


def _reload(old: list[VirtualServerSpec], new: list[VirtualServerSpec], down: tuple[int, ...] = ()
            ) -> tuple[list[str], list[str], list[str], list[CheckerMail]]:
    lines: list[str] = []
    fifo: list[str] = []
    scripts: list[str] = []
    mails: list[CheckerMail] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("test.checker_reload")
    logger.addHandler(handler := Catch())
    logger.setLevel(logging.INFO)

    async def go() -> None:
        rt = CheckerRuntime(old, None, fifo=fifo.append, run_script=scripts.append, mail=mails.append,
                            logger=logger)
        await rt.start()
        for i in down:  # these real servers are down (their checker failed)
            rt.states[0].rs[i].alive = False
        lines.clear(), fifo.clear(), scripts.clear(), mails.clear()
        await rt.reload(new)
        await rt.stop(clear=False)

    try:
        asyncio.run(go())
    finally:
        logger.removeHandler(handler)
    return lines, fifo, scripts, mails


def test_a_dropped_virtual_server() -> None:
    other = replace(SPEC, key=ServiceKey(4, Protocol.TCP, "203.0.113.20", 80), real_servers=(_rs(21),))
    lines, fifo, scripts, mails = _reload([SPEC], [other], down=(2,))
    assert lines[:6] == [
        f"Removing Virtual Server {VS}",
        f"Removing service [192.0.2.11]:tcp:80 from VS {VS}",
        f"Executing [/bin/down11] for service [192.0.2.11]:tcp:80 in VS {VS}",
        f"Removing service [192.0.2.12]:tcp:80 from VS {VS}",
        f"Executing [/bin/down12] for service [192.0.2.12]:tcp:80 in VS {VS}",
        f"Removing (inhibited) service [192.0.2.13]:tcp:80 from VS {VS}",  # down, weight 0 in the table
    ]
    assert scripts[:3] == ["/bin/down11", "/bin/down12", "/bin/qdown"]
    assert fifo[:3] == [f"RS [192.0.2.11]:tcp:80 {VS} DOWN", f"RS [192.0.2.12]:tcp:80 {VS} DOWN",
                        f"VS {VS} DOWN"]
    assert mails == [CheckerMail(VS, f"[192.0.2.{n}]:tcp:80", "DOWN", "=> Removing <=") for n in (11, 12)]


def test_real_servers_a_kept_virtual_server_drops() -> None:
    lines, fifo, scripts, _ = _reload([SPEC], [replace(SPEC, real_servers=SPEC.real_servers[1:])])
    assert lines[:3] == ["service [192.0.2.11]:tcp:80 no longer exist",
                         f"Removing service [192.0.2.11]:tcp:80 from VS {VS}",
                         f"Executing [/bin/down11] for service [192.0.2.11]:tcp:80 in VS {VS}"]
    assert "Removing Virtual Server" not in " ".join(lines)
    assert scripts == ["/bin/down11"]  # 2 servers of weight 1 still make the quorum of 2
    assert fifo == [f"RS [192.0.2.11]:tcp:80 {VS} DOWN"]


@pytest.mark.parametrize("change", ["weight", "scheduler"])
def test_a_changed_virtual_server_is_kept(change: str) -> None:
    new = (replace(SPEC, real_servers=(replace(SPEC.real_servers[0], weight=5), *SPEC.real_servers[1:]))
           if change == "weight" else replace(SPEC, scheduler="rr" if SPEC.scheduler != "rr" else "wrr"))
    lines, fifo, scripts, mails = _reload([SPEC], [new])
    assert (lines, fifo, scripts, mails) == ([], [], [], [])


def test_a_group_is_the_same_virtual_server_whatever_its_entries() -> None:
    grp = replace(SPEC, group="G1")
    lines, _, _, _ = _reload([grp], [replace(grp, key=ServiceKey(4, Protocol.TCP, "203.0.113.99", 80))])
    assert lines == []
    lines, _, _, _ = _reload([grp], [replace(grp, group="G2")])
    assert lines[0] == "Removing Virtual Server Group [G1]"


def test_a_sorry_server_the_new_file_changes() -> None:
    spec = replace(SPEC, quorum=5, sorry_server=RealServerSpec(addr="192.0.2.99", port=80))
    lines, _, _, _ = _reload([spec], [replace(spec, sorry_server=RealServerSpec(addr="192.0.2.98", port=80))])
    assert lines[0] == f"Removing sorry server [192.0.2.99]:tcp:80 from VS {VS}"
