"""The VRRP executor and the services beside it take narrow parts, not the VRRP child (issue 14):
a real core (VrrpEngine, VrrpInstance) drives a LinuxExecutor built from an InstanceTable and a
VrrpEvents hook, and what the services see (the VrrpView, the state hook) is what the core did.
Nothing here needs the kernel: the effects used (state changes, notifies, log lines) touch none."""

from __future__ import annotations

import asyncio
import logging
from ipaddress import IPv4Address

import pytest

from pykeepalived.config.instance_setup import InstanceSetup
from pykeepalived.control.view import VrrpEvents, VrrpView
from pykeepalived.daemon.log import log
from pykeepalived.daemon.vrrp.executor import LinuxExecutor, MacCache
from pykeepalived.daemon.vrrp.instances import InstanceTable, Runtime
from pykeepalived.linux.addresses import Address
from pykeepalived.vrrp.effects import Log, LogLevel, Notify, State, StateChanged
from pykeepalived.vrrp.engine import VrrpEngine
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.params import SEC, InstanceParams


def params() -> InstanceParams:
    return InstanceParams(name="VI_1", vrid=51, family=4, version=2, base_priority=100, interface="eth9",
                          adver_int_us=SEC, vips=(IPv4Address("192.0.2.100"),), wants_master=True)


def test_state_changes_reach_every_subscriber_in_order_and_the_view(caplog: pytest.LogCaptureFixture) -> None:
    engine = VrrpEngine()
    inst = engine.add_instance(VrrpInstance(params()))
    table = InstanceTable(engine)
    events = VrrpEvents()
    heard: list[str] = []

    def broken(e: StateChanged) -> None:
        raise RuntimeError("a service that fails")

    events.subscribe(table.transitions.changed)
    events.subscribe(lambda e: heard.append(f"first {e.old.word}->{e.new.word}"),
                     lambda n: heard.append(f"notify {n.event}"))
    events.subscribe(broken)
    events.subscribe(lambda e: heard.append(f"after {e.new.word}"))

    async def go() -> None:
        ex = LinuxExecutor(table, None, MacCache(None), events, None, dont_release=False)
        ex.start()
        try:
            ex.submit(engine.start(0))
            deadline = engine.next_deadline()
            assert deadline is not None
            inst.set_source_address(IPv4Address("192.0.2.1"), 0)
            ex.submit(engine.handle_timer(deadline))  # master down timer: MASTER
        finally:
            ex.close()

    with caplog.at_level(logging.ERROR, logger="pykeepalived"):
        asyncio.run(go())
    assert inst.state is State.MASTER
    assert heard[:3] == ["first INIT->BACKUP", "after BACKUP", "notify BACKUP"]
    assert "first BACKUP->MASTER" in heard and "after MASTER" in heard and "notify MASTER" in heard
    assert "internal error applying StateChanged: RuntimeError('a service that fails')" in caplog.text
    view: VrrpView = table
    assert list(view.instances()) == ["VI_1"]
    assert view.last_transition("VI_1") > 0  # the transitions subscriber heard it
    assert view.interface("VI_1") == "eth9"  # no Runtime entry: the configured interface
    assert view.addresses("VI_1", excluded=False) == [(IPv4Address("192.0.2.100"), 32, "eth9")]
    assert view.instance("VI_1") is inst
    assert view.interface_info("VI_1") is None and view.setup("VI_1") is None
    assert not view.address_set("VI_1", IPv4Address("192.0.2.100"))  # no Runtime entry: nothing set


def test_the_view_during_a_reload_and_the_addresses_set() -> None:
    """What the SNMP agent and the DBus service read of an instance (the VrrpView): `instance` finds
    one a reload is dropping (gone from the engine, still in the running table: its last DBus state
    signal needs its path); `address_set` is a VIP the instance holds and the kernel did not refuse."""
    engine = VrrpEngine()
    old = VrrpInstance(params())
    table = InstanceTable(engine)
    vip, refused = IPv4Address("192.0.2.100"), IPv4Address("192.0.2.101")
    rt = Runtime(old.params, InstanceSetup(promote_secondaries=True), old, None,
                 addresses={vip: Address(vip, "eth9"), refused: Address(refused, "eth9")}, not_set={refused})
    table.replace({"VI_1": rt})
    view: VrrpView = table
    assert view.instances() == {} and view.instance("VI_1") is old  # the engine has the reload's new set
    setup = view.setup("VI_1")
    assert setup is not None and setup.promote_secondaries
    assert not view.address_set("VI_1", vip)  # not MASTER: nothing set
    old.vipset = True
    assert view.address_set("VI_1", vip) and not view.address_set("VI_1", refused)
    new = engine.add_instance(VrrpInstance(params()))
    assert view.instance("VI_1") is new  # the engine's instance first
    assert view.instance("VI_2") is None


def test_notify_hook_order_is_subscription_order() -> None:
    events = VrrpEvents()
    got: list[str] = []
    events.subscribe(on_notify=lambda n: got.append("scripts"))
    events.subscribe(on_notify=lambda n: got.append("control"))
    events.notified(Notify("INSTANCE", "VI_1", "MASTER", 100))
    assert got == ["scripts", "control"]


def test_an_in_turn_subscriber_hears_the_notify_after_the_queued_work(
        caplog: pytest.LogCaptureFixture) -> None:
    """The SNMP agent's traps (VrrpEvents in_turn): a notify reaches an in-turn subscriber in the
    executor's ordered queue, after the work the change queued before it (keepalived logs its trap
    lines after "setting VIPs."); with nothing queued it hears it at once (keepalived's trap line
    right after "Entering BACKUP STATE (init)"); the other subscribers hear it at once, in
    subscription order, and a failing in-turn subscriber is logged like the others."""
    events = VrrpEvents()
    got: list[str] = []

    def broken(n: Notify) -> None:
        raise RuntimeError("a trap that fails")

    def traps(n: Notify) -> None:
        got.append(f"traps {n.event}")

    events.subscribe(on_notify=lambda n: got.append("scripts"))
    events.subscribe(on_notify=traps, in_turn=True)
    events.subscribe(on_notify=broken, in_turn=True)
    events.subscribe(on_notify=lambda n: got.append("dbus"))
    events.notified(Notify("INSTANCE", "VI_1", "BACKUP", 100))  # no queue yet: at once
    assert got == ["scripts", "traps BACKUP", "dbus"]
    got.clear()

    async def address_work() -> None:
        got.append("setting VIPs")

    async def go() -> None:
        table = InstanceTable(VrrpEngine())
        ex = LinuxExecutor(table, None, MacCache(None), events, None, dont_release=False)
        ex.start()
        events.turn = ex.in_turn
        try:
            ex.queue.put_nowait(address_work)
            events.notified(Notify("INSTANCE", "VI_1", "MASTER", 100))
            assert got == ["scripts", "dbus"]
            await ex.drain()
            events.notified(Notify("INSTANCE", "VI_1", "BACKUP", 100))  # nothing queued: at once
            assert got[-3:] == ["scripts", "traps BACKUP", "dbus"]
            events.unsubscribe(on_notify=traps)
            events.notified(Notify("INSTANCE", "VI_1", "FAULT", 0))
            await ex.drain()
        finally:
            ex.close()

    with caplog.at_level(logging.ERROR, logger="pykeepalived"):
        asyncio.run(go())
    assert got == ["scripts", "dbus", "setting VIPs", "traps MASTER", "scripts", "traps BACKUP", "dbus",
                   "scripts", "dbus"]
    assert caplog.text.count("internal error applying Notify: RuntimeError('a trap that fails')") == 4


def test_the_cores_log_lines_wait_behind_the_queued_work(caplog: pytest.LogCaptureFixture) -> None:
    """A Log effect is logged at once when no work is queued, else after that work (keepalived logs a
    synced member's "Entering MASTER STATE" after the first member's "setting VIPs.")."""
    async def address_work() -> None:
        log.info("(VI_1) setting VIPs.")

    async def go() -> None:
        ex = LinuxExecutor(InstanceTable(VrrpEngine()), None, MacCache(None), VrrpEvents(), None,
                           dont_release=False)
        ex.start()
        try:
            ex.submit([Log(LogLevel.INFO, "(VI_1) Entering MASTER STATE")])
            ex.queue.put_nowait(address_work)
            ex.submit([Log(LogLevel.INFO, "(VI_2) Entering MASTER STATE")])
            log.info("at once")
            await ex.drain()
        finally:
            ex.close()

    with caplog.at_level(logging.INFO, logger="pykeepalived"):
        asyncio.run(go())
    assert [r.getMessage() for r in caplog.records] == [
        "(VI_1) Entering MASTER STATE", "at once", "(VI_1) setting VIPs.", "(VI_2) Entering MASTER STATE"]
