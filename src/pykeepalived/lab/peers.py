"""Configuration builders and checks shared by the interop tests (pykeepalived vs keepalived / FRR)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pykeepalived.lab.netns import Lab
from pykeepalived.lab.node import Node, wait_for

IMPLS = ("py", "ka")
# Slack for a daemon to start and reach its first state on a loaded 2-core machine (Python start-up,
# parallel test workers): added to every wait that includes a daemon start. Never a timing assertion.
STARTUP = 15.0


def other(impl: str) -> str:
    return "ka" if impl == "py" else "py"


@dataclass
class Inst:
    """One vrrp_instance block."""

    name: str = "VI_1"
    vrid: int = 51
    prio: int = 100
    advert: str = "1"
    vips: tuple[str, ...] = ("192.0.2.100/24",)
    version: int | None = None
    iface: str = "eth0"
    lines: tuple[str, ...] = ()

    def render(self) -> str:
        body = [
            "    state BACKUP", f"    interface {self.iface}", f"    virtual_router_id {self.vrid}",
            f"    priority {self.prio}", f"    advert_int {self.advert}",
        ]
        if self.version:
            body.append(f"    version {self.version}")
        body += [f"    {ln}" for ln in self.lines]
        body.append("    virtual_ipaddress {")
        body += [f"        {v}" for v in self.vips]
        body.append("    }")
        return f"vrrp_instance {self.name} {{\n" + "\n".join(body) + "\n}\n"


@dataclass
class Conf:
    insts: list[Inst]
    globals_: tuple[str, ...] = ()
    sync_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    router_id: str = "node"

    def render(self) -> str:
        g = "\n".join(f"    {ln}" for ln in self.globals_)
        text = f"global_defs {{\n    router_id {self.router_id}\n{g}\n}}\n"
        for name, members in self.sync_groups.items():
            text += f"vrrp_sync_group {name} {{\n    group {{\n" + "".join(
                f"        {m}\n" for m in members) + "    }\n}\n"
        return text + "".join(i.render() for i in self.insts)


def start(lab: Lab, nodes: list[Node], host: str, impl: str, conf: Conf | str) -> Node:
    text = conf if isinstance(conf, str) else conf.render()
    n = Node(lab[host], text, impl=impl).start()
    nodes.append(n)
    return n


def master_entries(n: Node, inst: str = "VI_1") -> int:
    return n.logs().count(f"({inst}) Entering MASTER STATE")


def wait_log(n: Node, text: str, timeout: float) -> float:
    return wait_for(lambda: text in n.logs(), timeout)


def graceful_stop(n: Node, timeout: float = 15) -> None:
    assert n.proc is not None
    n.proc.send_signal(signal.SIGTERM)
    rc = n.proc.wait(timeout)
    n.proc = None
    assert rc == 0, f"{n.impl} exited with {rc}:\n{n.logs()[-2000:]}"


def hold(cond_seconds: float, check: Callable[[], bool], step: float = 0.1) -> None:
    """Assert `check()` stays true for `cond_seconds`."""
    t_end = time.monotonic() + cond_seconds
    while time.monotonic() < t_end:
        assert check()
        time.sleep(step)


BAD_LOG_WORDS = (
    "Invalid", "invalid", "bogus", "mismatch", "wrong VRRP version", "too long", "too short",
    "Traceback", "internal error", "not present in advert", "expected ",
)


def protocol_complaints(n: Node) -> list[str]:
    """Log lines in which a daemon rejects or complains about a peer's packets (should be none)."""
    return [ln for ln in n.logs().splitlines() if any(w in ln for w in BAD_LOG_WORDS)]


@dataclass
class Takeover:
    """One measured takeover, from a capture on an observer host."""

    kind: str  # "hard" | "graceful"
    delay: float  # s, from the old master's last advert (hard) / priority-0 advert (graceful)
    bound: float  # s, what the protocol prescribes for that delay (master down interval / skew)
    adverts_before: int

    @property
    def ratio(self) -> float:
        return self.delay / self.bound


def down_interval(version: int, advert: float, prio: int) -> float:
    """Master_Down_Interval (RFC 3768 §6.1 / RFC 5798 §6.1; keepalived.md §5.2)."""
    return 3 * advert + skew(version, advert, prio)


def skew(version: int, advert: float, prio: int) -> float:
    return (256 - prio) / 256 * (1.0 if version == 2 else advert)


def measure_takeover(
    lab: Lab, nodes: list[Node], master_impl: str, backup_impl: str, *, version: int, advert: str, kind: str,
    observer: str = "obs", settle: float = 1.0, hosts: tuple[str, str] = ("n1", "n2"), vrid: int = 51,
    vip: str = "192.0.2.100",
) -> Takeover:
    """Master (prio 150) on hosts[0], backup (prio 100) on hosts[1]; stop the master hard or gracefully
    and time the backup's first advert against the master's last one, as seen by tcpdump on `observer`.
    Several measurements may run at once in one lab with distinct hosts, VRIDs and VIPs."""
    from pykeepalived.lab.capture import Capture, vrrp_adverts

    adv = float(advert)

    def conf(prio: int) -> Conf:
        return Conf([Inst(vrid=vrid, prio=prio, advert=advert, vips=(f"{vip}/24",),
                          version=version if version == 3 else None)])

    m = start(lab, nodes, hosts[0], master_impl, conf(150))
    wait_for(lambda: m.has(vip), down_interval(version, adv, 150) + STARTUP)
    b = start(lab, nodes, hosts[1], backup_impl, conf(100))
    wait_log(b, "(VI_1) Entering BACKUP STATE", STARTUP)
    cap = Capture(lab[observer], "ip proto 112")
    try:
        time.sleep(settle + down_interval(version, adv, 100))
        assert master_entries(b) == 0, b.logs()
        if kind == "hard":
            m.kill()
        else:
            graceful_stop(m)
        wait_for(lambda: b.has(vip), down_interval(version, adv, 100) + 5)
        time.sleep(2 * adv)
        seen = [s for s in vrrp_adverts(cap.stop()) if s.vrid == vrid]
    finally:
        cap.cleanup()
    a, bb = str(lab[hosts[0]].ipv4), str(lab[hosts[1]].ipv4)
    old = [s for s in seen if s.src == a]
    new = [s for s in seen if s.src == bb and s.priority > 0]
    assert old and new, (old, new)
    if kind == "graceful":
        zero = [s for s in old if s.priority == 0]
        assert zero, "no priority-0 advert at graceful stop"
        t0, bound = zero[0].t, skew(version, adv, 100)
    else:
        assert all(s.priority > 0 for s in old), "priority-0 advert sent on a hard kill"
        t0, bound = old[-1].t, down_interval(version, adv, 100)
    first = [s for s in new if s.t > t0]
    assert first, "backup never advertised after the master stopped"
    return Takeover(kind, first[0].t - t0, bound, len(old))
