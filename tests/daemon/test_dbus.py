"""enable_dbus side by side with keepalived 2.2.7 (Debian's build has DBus): each daemon on a private
system bus of its own (src/pykeepalived/lab/dbus_bus.py, never the host's), in namespaces prefixed p17. The
bus tools' views (busctl, gdbus, dbus-send, dbus-monitor) of both services are compared: objects,
introspection, properties, GDBus's error answers, the signals through a failover, the methods'
effects (dumps, reload, the GARP on the wire) and the shipped policy (a non-root client)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.capture import Capture, read_pcap
from pykeepalived.lab.dbus_bus import NOBODY, PrivateBus, by_path, wait_signals
from pykeepalived.lab.node import Node, discard, dump_logs, wait_for

pytestmark = [
    pytest.mark.netns, pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not (shutil.which("keepalived") and shutil.which("dbus-daemon")),
                       reason="needs keepalived 2.2.7 and dbus-daemon"),
]

SVC = "org.keepalived.Vrrp1"
VRRP = "/org/keepalived/Vrrp1/Vrrp"
I4 = "/org/keepalived/Vrrp1/Instance/eth0/51/IPv4"
I6 = "/org/keepalived/Vrrp1/Instance/eth0/52/IPv6"
STATE = "org.keepalived.Vrrp1.Instance"


def conf(prio: int = 100, dbus: bool = True, vips4: str = "192.0.2.100/24") -> str:
    return f"""global_defs {{
    router_id dbus_{prio}
{"    enable_dbus" if dbus else ""}
    vrrp_garp_master_delay 0
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {prio}
    advert_int 1
    virtual_ipaddress {{
        {vips4}
    }}
}}
vrrp_instance VI_6 {{
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority {prio}
    advert_int 1
    virtual_ipaddress {{
        2001:db8::100/64
    }}
}}
"""


class Side:
    """One implementation: its host, its bus, its daemon and a monitor of its signals."""

    def __init__(self, host: Host, impl: str, text: str, names: tuple[str, ...] = ()) -> None:
        self.bus = PrivateBus(names)
        try:
            self.monitor = self.bus.monitor()
        except BaseException:
            self.bus.close()  # no bus left running
            raise
        self.node = Node(host, text, impl=impl, env=self.bus.env)

    def master(self, timeout: float = 30) -> None:
        wait_for(lambda: all(self.state(p) == "(us) 2 \"Master\"" for p in (I4, I6)), timeout)

    def state(self, path: str) -> str:
        return self.bus.busctl("get-property", SVC, path, STATE, "State", check=False).strip()

    def close(self) -> None:
        discard(self.node)
        self.bus.close()


@pytest.fixture
def sides() -> Iterator[tuple[Lab, dict[str, Side]]]:
    """keepalived ("ka") and pykeepalived ("py"), each alone on a LAN with the same addresses and on a
    bus of its own, with one configuration; each LAN has a spare host for a peer."""
    with Lab(prefix=f"p17{os.getpid()}x{time.monotonic_ns() % 100000}-") as lab:
        made: dict[str, Side] = {}
        try:
            for impl in ("ka", "py"):
                lan = lab.add_lan(ipv4="192.0.2.0/24", ipv6="2001:db8::/64")
                made[impl] = Side(lab.add_host(impl, [lan]), impl, conf())
                lab.add_host(f"{impl}peer", [lan])
            yield lab, made
        finally:
            print(dump_logs(*(s.node for s in made.values())))  # shown when the test fails
            for s in made.values():
                s.close()


def start(made: dict[str, Side]) -> None:
    for s in made.values():
        s.node.start()
    for s in made.values():
        s.master()


def test_objects_introspection_and_properties_as_keepalived(sides: tuple[Lab, dict[str, Side]]) -> None:
    _, made = sides
    start(made)
    seen = {}
    for impl, s in made.items():
        b = s.bus
        out = [b.busctl("tree", SVC)]
        for path in ("/", "/org/keepalived/Vrrp1", "/org/keepalived/Vrrp1/Instance/eth0", VRRP, I4, I6):
            out.append(b.busctl("introspect", SVC, path))
            xml = b.busctl("call", SVC, path, "org.freedesktop.DBus.Introspectable", "Introspect")
            out.append(re.sub(r"<!-- GDBus [0-9.]+ -->\\n", "", xml))  # a comment only GDBus writes
        out.append(b.gdbus("introspect", "--dest", SVC, "--object-path", "/", "--recurse"))
        for path in (I4, I6):
            for prop in ("Name", "State"):
                out.append(b.busctl("get-property", SVC, path, STATE, prop))
            out.append(b.busctl("call", SVC, path, "org.freedesktop.DBus.Properties", "GetAll", "s", STATE))
        out.append(b.busctl("call", SVC, VRRP, "org.freedesktop.DBus.Properties", "GetAll", "s",
                            "org.keepalived.Vrrp1.Vrrp"))
        out.append(b.busctl("call", SVC, "/x", "org.freedesktop.DBus.Peer", "Ping"))
        # GDBus's answers to what the objects do not have, as dbus-send shows them
        P = "org.freedesktop.DBus.Properties"
        for path, method, *args in [
            (I4, f"{P}.Get", "string:foo", "string:Name"), (I4, f"{P}.Get", f"string:{STATE}", "string:Foo"),
            (I4, f"{P}.Set", f"string:{STATE}", "string:Name", "variant:string:x"),
            (I4, f"{P}.GetAll", "string:foo"), (I4, f"{P}.GetAll"),
            (I4, f"{STATE}.Foo"), (I4, "org.keepalived.Vrrp1.Vrrp.PrintData"),
            (I4, f"{STATE}.SendGarp", "string:x"),
            (VRRP, "org.freedesktop.DBus.Introspectable.Introspect", "string:x"),
            (VRRP, "org.freedesktop.DBus.Peer.Foo"),
            (VRRP, f"{P}.Get", "string:org.keepalived.Vrrp1.Vrrp", "string:X"),
            ("/org/keepalived/Vrrp1", "org.keepalived.Vrrp1.Vrrp.PrintData"),
            ("/org/keepalived/Vrrp1/Instance/eth0/53/IPv4", f"{STATE}.SendGarp"),
        ]:
            out.append(b.send(path, method, *args))
        seen[impl] = out
    assert seen["py"] == seen["ka"]
    assert any(o.strip() == '(s) "VI_1"' for o in seen["ka"])  # the values were read


def test_signals_through_a_failover_as_keepalived(sides: tuple[Lab, dict[str, Side]]) -> None:
    """VrrpStarted and each instance's state once the bus is reached, VrrpStatusChange as a peer of
    higher priority takes over (1) and leaves (2), then 98 for each instance and VrrpStopped at stop."""
    lab, made = sides
    start(made)
    for impl, s in made.items():
        peer = Node(lab.hosts[f"{impl}peer"], conf(prio=200, dbus=False)).start()
        try:
            wait_for(lambda s=s: all(s.state(p) == '(us) 1 "Backup"' for p in (I4, I6)), 30)
            peer.stop()
        finally:
            discard(peer)
        s.master()
        assert s.node.stop() == 0
    got = {impl: by_path(wait_signals(s.monitor, "VrrpStopped")) for impl, s in made.items()}
    # the first signal is the state when the bus is reached: INIT (0) before BACKUP when the bus
    # answers before the instance has started (a start-up race in either daemon, seen under load)
    init = ("VrrpStatusChange", ("uint32 0",))
    got = {impl: {p: sig[1:] if sig[:2] == [init, ("VrrpStatusChange", ("uint32 1",))] else sig
                  for p, sig in g.items()} for impl, g in got.items()}
    changes = [("VrrpStatusChange", (f"uint32 {n}",)) for n in (1, 2, 1, 2, 98)]
    assert got["ka"] == {VRRP: [("VrrpStarted", ()), ("VrrpStopped", ())], I4: changes, I6: changes}
    assert got["py"] == got["ka"]
    for s in made.values():
        assert "Released DBus" in s.node.logs()


def _frames(cap: Capture, mac: bytes) -> list[bytes]:
    """The GARPs / unsolicited NAs for the VIPs in a capture, the sender's MAC masked."""
    out = []
    for _, f in read_pcap(cap.stop()):
        etype = struct.unpack_from("!H", f, 12)[0]
        arp = etype == 0x0806 and f[28:32] == bytes([192, 0, 2, 100])
        na = etype == 0x86DD and f[20] == 58 and f[54] == 136 and "2001:db8::100" in _v6(f[62:78])
        if na:  # the source (the host's link-local address) and so the checksum differ
            f = f[:22] + bytes(16) + f[38:56] + bytes(2) + f[58:]
        if arp or na:
            out.append(f.replace(mac, b"MACMAC"))
    return out


def _v6(b: bytes) -> str:
    import ipaddress

    return str(ipaddress.IPv6Address(b)) if len(b) == 16 else ""


def _mac(host: Host) -> bytes:
    return bytes.fromhex(host.run(["cat", "/sys/class/net/eth0/address"]).strip().replace(":", ""))


def test_methods_do_what_keepalived_does(sides: tuple[Lab, dict[str, Side]]) -> None:
    """PrintData / PrintStats / PrintStatsClear write the dumps, SendGarp puts one GARP (IPv4) or NA
    (IPv6) per VIP on the wire, ReloadConfig reloads the changed file and says VrrpReloaded."""
    _, made = sides
    start(made)
    frames: dict[str, list[list[bytes]]] = {}
    reloads: dict[str, list[object]] = {}
    dumped: dict[str, list[str]] = {}
    for impl, s in made.items():
        d: Path = s.node.dir
        assert s.bus.send(VRRP, "org.keepalived.Vrrp1.Vrrp.PrintData") == "method return"
        wait_for(lambda d=d: (d / "keepalived.data").exists(), 10)
        data = (d / "keepalived.data").read_text()
        assert "------< VRRP Topology >------" in data
        dumped[impl] = [ln for ln in data.splitlines() if "DBus" in ln]
        for method in ("PrintStats", "PrintStatsClear"):
            (d / "keepalived.stats").unlink(missing_ok=True)
            assert s.bus.send(VRRP, f"org.keepalived.Vrrp1.Vrrp.{method}") == "method return"
            wait_for(lambda d=d: (d / "keepalived.stats").exists(), 10)
            assert "VRRP Instance: VI_1" in (d / "keepalived.stats").read_text()
        mac = _mac(s.node.host)
        frames[impl] = []
        for path in (I4, I6):
            cap = Capture(s.node.host, "arp or icmp6")
            try:
                assert s.bus.send(path, f"{STATE}.SendGarp") == "method return"
                time.sleep(1.5)
                frames[impl].append(_frames(cap, mac))
            finally:
                cap.cleanup()
        # the reload adds a VIP to VI_1, drops VI_6 (its object goes, its last signal is FAULT) and
        # adds VI_7 (its object comes, its BACKUP signal after VrrpReloaded)
        text = conf(vips4="192.0.2.100/24\n        192.0.2.101/24")
        vi7 = conf().split("vrrp_instance VI_6")[0].split("vrrp_instance VI_1")[1]
        vi7 = "vrrp_instance VI_7" + vi7.replace("id 51", "id 53").replace("192.0.2.100/", "192.0.2.107/")
        s.node.conf.write_text(text[:text.index("vrrp_instance VI_6")] + vi7)
        mon = s.bus.monitor()
        assert s.bus.send(VRRP, "org.keepalived.Vrrp1.Vrrp.ReloadConfig") == "method return"
        wait_for(lambda s=s: s.node.has("192.0.2.101"), 20)
        # VrrpReloaded, then the new instance's first state (the next signal the monitor prints)
        reloads[impl] = [wait_signals(mon, "VrrpReloaded", after=1)[:3], s.bus.busctl("tree", SVC)]
    assert dumped["ka"] == [" DBus enabled", " DBus service name = "]
    assert dumped["py"] == dumped["ka"]
    assert [len(f) for f in frames["ka"]] == [1, 1]  # one GARP, one NA
    assert frames["py"] == frames["ka"]
    i7 = "/org/keepalived/Vrrp1/Instance/eth0/53/IPv4"
    assert reloads["ka"][0] == [(I6, "VrrpStatusChange", ("uint32 3",)), (VRRP, "VrrpReloaded", ()),
                                (i7, "VrrpStatusChange", ("uint32 1",))]
    assert I6 not in str(reloads["ka"][1]) and I4 in str(reloads["ka"][1]) and i7 in str(reloads["ka"][1])
    assert reloads["py"] == reloads["ka"]
    wanted = re.compile(r"on DBus request|Reloading|Sending/queueing|DBus object")
    lines = {}
    for impl, s in made.items():
        text = s.node.logs()
        text = text[text.index("Printing VRRP data on DBus request") - 26:]  # after the start's GARPs
        lines[impl] = [ln.split(": ", 1)[1] for ln in text.splitlines()
                       if wanted.search(ln) and "(VI_7)" not in ln]  # VI_7 becomes MASTER in its time
    assert lines["ka"][:5] == [
        "Printing VRRP data on DBus request", "Printing VRRP stats on DBus request",
        "Printing and clearing VRRP stats on DBus request", "Sending garps on VI_1 on DBus request",
        "(VI_1) Sending/queueing gratuitous ARPs on eth0 for 192.0.2.100"]
    # the parent's "Reloading ..." and the child's "Reloading" follow, as after a SIGHUP
    assert lines["py"] == lines["ka"]


def test_policy_lets_others_read_but_not_call(sides: tuple[Lab, dict[str, Side]]) -> None:
    """The shipped policy (the same rules as Debian's /etc/dbus-1/system.d/org.keepalived.Vrrp1.conf):
    a non-root client introspects and reads properties, and is refused the methods."""
    _, made = sides
    start(made)
    seen = {}
    for impl, s in made.items():
        b = s.bus
        seen[impl] = [
            b.busctl("get-property", SVC, I4, STATE, "State", user=NOBODY, check=False),
            b.busctl("introspect", SVC, VRRP, user=NOBODY, check=False),
            b.busctl("call", SVC, VRRP, "org.keepalived.Vrrp1.Vrrp", "PrintData", user=NOBODY, check=False),
        ]
        assert not (s.node.dir / "keepalived.data").exists()
    assert seen["py"] == seen["ka"]
    assert "Access denied" in seen["ka"][2] or "AccessDenied" in seen["ka"][2], seen["ka"][2]


def test_service_name_instance_name_and_a_reload_that_turns_it_off(
        sides: tuple[Lab, dict[str, Side]]) -> None:
    """dbus_service_name owns another name; the top-level `instance` is in every path; a reload of a
    file without enable_dbus stops the service (VrrpStopped, "Released DBus"), as keepalived's does."""
    lab, made = sides
    name = "org.keepalived.Blue"
    text = "instance blue\n" + conf().replace("    enable_dbus\n",
                                              f"    enable_dbus\n    dbus_service_name {name}\n")
    path = "/org/keepalived/Vrrp1/blue/Instance/eth0/51/IPv4"
    seen = {}
    for impl in ("ka", "py"):
        made[impl].close()
        s = made[impl] = Side(lab.hosts[impl], impl, text, names=(name,))
        s.node.start()
        wait_for(lambda s=s: s.bus.busctl("get-property", name, path, STATE, "State", check=False).strip()
                 == '(us) 2 "Master"', 30)
        seen[impl] = [s.bus.busctl("tree", name), s.bus.busctl("get-property", name, path, STATE, "Name")]
        mon = s.bus.monitor()
        s.node.conf.write_text(text.replace("    enable_dbus\n", ""))
        s.node.signal(signal.SIGHUP)
        wait_for(lambda s=s: "Released DBus" in s.node.logs(), 20)
        wait_for(lambda s=s: name not in s.bus.busctl("list", "--no-legend", check=False), 10)
        seen[impl].append(by_path(wait_signals(mon, "VrrpStopped")))
        seen[impl].append([ln.split(": ", 1)[1] for ln in s.node.logs().splitlines()
                           if re.search(r"DBus|the name", ln)])
    assert seen["ka"][2] == {"/org/keepalived/Vrrp1/blue/Vrrp": [("VrrpStopped", ())]}
    assert seen["ka"][3] == [f"Acquired DBus bus {name}", f"Acquired the name {name} on the session bus",
                             "Released DBus"]
    assert seen["py"] == seen["ka"]


def test_the_bus_going_away(sides: tuple[Lab, dict[str, Side]]) -> None:
    """The bus stops under a running daemon: "Lost the name ...", VRRP goes on, a reload and the stop
    try no signal, as keepalived's GDBus does."""
    _, made = sides
    start(made)
    seen = {}
    for impl, s in made.items():
        s.bus.proc.kill()
        s.bus.proc.wait()
        wait_for(lambda s=s: "Lost the name" in s.node.logs(), 10)
        s.node.signal(signal.SIGHUP)
        wait_for(lambda s=s: "Reload complete" in s.node.logs(), 20)
        assert s.node.has("192.0.2.100")
        assert s.node.stop() == 0
        seen[impl] = [ln.split(": ", 1)[1] for ln in s.node.logs().splitlines()
                      if re.search(r"DBus|the name|Traceback", ln)]
    assert seen["ka"] == ["Acquired DBus bus org.keepalived.Vrrp1",
                          "Acquired the name org.keepalived.Vrrp1 on the session bus",
                          "Lost the name org.keepalived.Vrrp1 on the session bus", "Released DBus"]
    assert seen["py"] == seen["ka"]
