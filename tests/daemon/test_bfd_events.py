"""The BFD event pipes and their consumers, without the BFD child: the test writes the event lines into
a real pipe (os.pipe) read on a real asyncio loop, and checks what the VRRP side and the checker runtime
make of them (keepalived vrrp_scheduler.c vrrp_handle_bfd_event, check_bfd.c bfd_check_handle_event)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from pykeepalived.bfd.events import ENV_CHECKER_FD, ENV_EVENT_FD, ENV_VRRP_FD, BfdEvent
from pykeepalived.check.model import BfdCheckSpec, RealServerSpec, VirtualServerSpec
from pykeepalived.check.scheduler import CheckerRuntime
from pykeepalived.config import load_config
from pykeepalived.config.to_params import instance_tracks
from pykeepalived.daemon.bfd_events import BfdEventReader, BfdPipes, VrrpBfdTracker, start_reader
from pykeepalived.daemon.roles import roles_for
from pykeepalived.lvs.model import Forwarding, Protocol, ServiceKey
from pykeepalived.options import parse_args
from pykeepalived.vrrp.params import TrackWeight
from pykeepalived.vrrp.tracking import Tracking


def read_events(chunks: list[bytes]) -> list[BfdEvent]:
    """Write `chunks` into a real pipe one by one (each read separately) and collect what the reader makes."""
    got: list[BfdEvent] = []

    async def go() -> None:
        r, w = os.pipe()
        reader = BfdEventReader(r, got.append)
        reader.start()
        try:
            for chunk in chunks:
                os.write(w, chunk)
                for _ in range(20):
                    await asyncio.sleep(0.005)
        finally:
            reader.close()
            os.close(w)

    asyncio.run(go())
    return got


def test_reader_splits_lines_across_reads_and_skips_garbage() -> None:
    got = read_events([b"B1 UP\nB2 DO", b"WN\nnonsense\nB3 SIDEWAYS\n", b"B1 DOWN\n"])
    assert got == [BfdEvent("B1", True), BfdEvent("B2", False), BfdEvent("B1", False)]


def test_reader_survives_a_failing_consumer(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def consumer(ev: BfdEvent) -> None:
        seen.append(ev.name)
        if ev.name == "bad":
            raise ValueError("boom")

    async def go() -> None:
        r, w = os.pipe()
        reader = BfdEventReader(r, consumer)
        reader.start()
        os.write(w, b"bad UP\ngood UP\n")
        for _ in range(20):
            await asyncio.sleep(0.005)
        reader.close()
        os.close(w)

    with caplog.at_level(logging.ERROR, logger="pykeepalived"):
        asyncio.run(go())
    assert seen == ["bad", "good"]
    assert "internal error handling BFD event" in caplog.text


def test_start_reader_takes_the_fd_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    got: list[BfdEvent] = []

    async def go() -> None:
        r, w = os.pipe()
        monkeypatch.setenv(ENV_EVENT_FD, str(r))
        reader = start_reader(got.append)
        assert reader is not None and reader.fd == r
        assert ENV_EVENT_FD not in os.environ  # scripts the child runs do not inherit it
        os.write(w, b"B1 UP\n")
        for _ in range(20):
            await asyncio.sleep(0.005)
        reader.close()
        os.close(w)

    asyncio.run(go())
    assert got == [BfdEvent("B1", True)]


def test_no_pipe_no_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_EVENT_FD, raising=False)

    async def go() -> object:
        return start_reader(lambda ev: None)

    assert asyncio.run(go()) is None


def test_parent_pipes_hand_each_child_its_ends() -> None:
    pipes = BfdPipes()
    try:
        env, fds = pipes.child_env("bfd")
        assert set(fds) == {pipes.vrrp_w, pipes.checker_w}
        assert env == {ENV_VRRP_FD: str(pipes.vrrp_w), ENV_CHECKER_FD: str(pipes.checker_w)}
        assert pipes.child_env("vrrp") == ({ENV_EVENT_FD: str(pipes.vrrp_r)}, (pipes.vrrp_r,))
        assert pipes.child_env("checker") == ({ENV_EVENT_FD: str(pipes.checker_r)}, (pipes.checker_r,))
        # what the BFD child writes on its VRRP end arrives on the VRRP child's read end only
        os.write(pipes.vrrp_w, BfdEvent("B1", True).encode())
        os.set_blocking(pipes.checker_r, False)
        assert os.read(pipes.vrrp_r, 100) == b"B1 UP\n"
        with pytest.raises(BlockingIOError):
            os.read(pipes.checker_r, 100)
        assert not os.get_inheritable(pipes.vrrp_r)  # only pass_fds hands them on
    finally:
        pipes.close()


CONF = """
bfd_instance B1 {
    neighbor_ip 192.0.2.2
    weight -30
}
bfd_instance B2 {
    neighbor_ip 192.0.2.3
    weight 20 reverse
}
bfd_instance BC {
    neighbor_ip 192.0.2.4
    checker
}
vrrp_sync_group G {
    group {
        VI_2
        VI_3
    }
    track_bfd {
        B2
    }
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 100
    track_bfd {
        B1
        B2 weight -10
        BC
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 2
    priority 100
}
vrrp_instance VI_3 {
    interface eth0
    virtual_router_id 3
    priority 100
}
"""


def test_track_bfd_weights_come_from_the_bfd_instance(tmp_path: Path) -> None:
    (tmp_path / "k.conf").write_text(CONF)
    model, diags = load_config(str(tmp_path / "k.conf"))
    msgs = [d.message for d in diags]
    # a checker-only session sends nothing to VRRP: keepalived drops the track (its -t text)
    assert "(VI_1) track bfd BC not found, ignoring..." in msgs
    tracks = {i.name: instance_tracks(model, i) for i in model.vrrp_instances}
    # `B2 weight -10` keeps B2's own reverse (keepalived alloc_track_bfd starts from weight_reverse)
    assert tracks["VI_1"] == (TrackWeight("bfd", "B1", -30, False), TrackWeight("bfd", "B2", -10, True))
    # a sync group's tracker reaches every member, unweighted without sync_group_tracking_weight
    assert tracks["VI_2"] == tracks["VI_3"] == (TrackWeight("bfd", "B2", 0, False),)


def test_vrrp_tracker_starts_down_logs_changes_once(caplog: pytest.LogCaptureFixture) -> None:
    tracker = VrrpBfdTracker.from_tracks([
        ("VI_1", [("script", "s"), ("bfd", "B1"), ("bfd", "B2")]),
        ("VI_2", [("bfd", "B2")]),
    ])
    calls: list[tuple[str, str, object]] = []

    def set_tracker(kind: str, name: str, value: object) -> None:
        calls.append((kind, name, value))

    tracker.initial(set_tracker)
    assert calls == [("bfd", "B1", False), ("bfd", "B2", False)]  # keepalived: bfd_up = false
    calls.clear()
    with caplog.at_level(logging.INFO, logger="pykeepalived"):
        for ev in (BfdEvent("B2", False), BfdEvent("B2", True), BfdEvent("B2", True), BfdEvent("XX", True),
                   BfdEvent("B1", True), BfdEvent("B2", False)):
            tracker.event(ev, set_tracker)
    assert calls == [("bfd", "B2", True), ("bfd", "B1", True), ("bfd", "B2", False)]
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "VRRP_Instance(VI_1) Tracked BFD instance B2 is UP",
        "VRRP_Instance(VI_2) Tracked BFD instance B2 is UP",
        "VRRP_Instance(VI_1) Tracked BFD instance B1 is UP",
        "VRRP_Instance(VI_1) Tracked BFD instance B2 is DOWN",
        "VRRP_Instance(VI_2) Tracked BFD instance B2 is DOWN",
    ]
    # a reload keeps the state of sessions still tracked, new ones start Down
    again = VrrpBfdTracker.from_tracks([("VI_1", [("bfd", "B1"), ("bfd", "B3")])]).carry_over(tracker)
    assert again.up == {"B1": True, "B3": False}


@pytest.mark.parametrize(("weight", "reverse", "down", "up"), [
    (0, False, None, 0),      # unweighted: FAULT until the session is Up
    (-30, False, -30, 0),     # negative weight: applied while Down (at start too)
    (20, False, 0, 20),       # positive weight: added while Up
    (20, True, 0, -20),       # reverse: subtracted while Up (keepalived weight_multiplier -1)
    (-30, True, 30, 0),
    (0, True, 0, None),       # unweighted reverse: FAULT while Up
])
def test_bfd_values_in_the_priority_arithmetic(weight: int, reverse: bool, down: int | None,
                                               up: int | None) -> None:
    """keepalived vrrp_track.c initialise_track_bfd_state / vrrp_handle_bfd_event, through the core's
    boolean tracker arithmetic, from the start state Down."""
    t = Tracking(100, (TrackWeight("bfd", "B1", weight, reverse),))
    for value, want in ((False, down), (True, up), (False, down)):
        t.set("bfd", "B1", value)
        total, faults = t.evaluate()
        assert (None if faults else total - 100) == want


def test_roles_bfd_child_when_configured_unless_no_bfd(tmp_path: Path) -> None:
    (tmp_path / "k.conf").write_text(CONF)
    model, _ = load_config(str(tmp_path / "k.conf"))
    assert roles_for(model, parse_args(["-f", "x"])) == ["vrrp", "bfd"]
    assert roles_for(model, parse_args(["-f", "x", "-B"])) == ["vrrp"]
    assert roles_for(model, parse_args(["-f", "x", "--no_bfd"])) == ["vrrp"]
    (tmp_path / "n.conf").write_text(CONF.split("vrrp_sync_group")[0].replace("bfd_instance", "track_file")
                                     .replace("neighbor_ip 192.0.2.", "file /tmp/x").replace("weight", "#"))
    bare, _ = load_config(str(tmp_path / "n.conf"))
    assert "bfd" not in roles_for(bare, parse_args(["-f", "x"]))
    assert "bfd" in roles_for(bare, parse_args(["-f", "x", "--all"]))


def _vs(alpha: bool) -> VirtualServerSpec:
    rs = [RealServerSpec(addr=f"192.0.2.1{i}", port=80, checks=(BfdCheckSpec(name="B1"),)) for i in (1, 2)]
    rs.append(RealServerSpec(addr="192.0.2.13", port=80, checks=(BfdCheckSpec(name="B2"),)))
    return VirtualServerSpec(key=ServiceKey(4, Protocol.TCP, "198.51.100.10", 80), forwarding=Forwarding.NAT,
                             alpha=alpha, real_servers=tuple(rs))


def test_bfd_check_follows_the_events(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> list[set[str]]:
        rt = CheckerRuntime([_vs(alpha=False)], None)
        await rt.start()
        pools = [set()]

        def pool() -> set[str]:
            return {d.addr for e in rt.desired().values() for d in e.dests.values()}

        pools[0] = pool()
        for name, up in (("B1", False), ("B1", False), ("B1", True), ("B2", False), ("B9", False)):
            rt.bfd_event(name, up)
            pools.append(pool())
        await rt.stop(clear=False)
        return pools

    with caplog.at_level(logging.INFO, logger="pykeepalived"):
        pools = asyncio.run(go())
    all3 = {"192.0.2.11", "192.0.2.12", "192.0.2.13"}
    assert pools == [all3, {"192.0.2.13"}, {"192.0.2.13"}, all3, {"192.0.2.11", "192.0.2.12"},
                     {"192.0.2.11", "192.0.2.12"}]
    text = caplog.text
    assert text.count("BFD check of [B1] RS([192.0.2.11]:tcp:80) is DOWN") == 1  # the repeat is ignored
    assert "Removing service [192.0.2.11]:tcp:80 from VS [198.51.100.10]:tcp:80" in text
    assert "BFD check of [B1] RS([192.0.2.12]:tcp:80) is UP" in text
    assert "Adding service [192.0.2.12]:tcp:80 to VS [198.51.100.10]:tcp:80" in text
    assert "Activating healthchecker for service [192.0.2.11]" not in text  # BFD_CHECK has no probe


def test_bfd_check_with_alpha_starts_down() -> None:
    async def go() -> tuple[set[str], set[str]]:
        rt = CheckerRuntime([_vs(alpha=True)], None)
        await rt.start()
        before = {d.addr for e in rt.desired().values() for d in e.dests.values()}
        rt.bfd_event("B1", True)
        after = {d.addr for e in rt.desired().values() for d in e.dests.values()}
        await rt.stop(clear=False)
        return before, after

    before, after = asyncio.run(go())
    assert before == set()
    assert after == {"192.0.2.11", "192.0.2.12"}
