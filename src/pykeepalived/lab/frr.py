# Theory of operation
# -------------------
# FRR daemons in a lab host (pykeepalived.lab), for the tests, the benches and the demo's second act:
#   * FrrNode: FRR 8.4 from Debian, zebra plus the daemons asked for (vrrpd as a VRRP peer, bgpd and
#     bfdd as a BGP speaker), run as user frr (the packaged binaries require the vty group frrvty,
#     which root is not in), each with its own pid file (-i), zserv socket (-z), vty socket
#     directory (--vty_socket) and config file (-f) in a temp dir, TCP vty disabled (-P 0): the
#     host's own FRR service is never touched. vrrpd drives the macvlan interfaces the operator
#     creates (FRR docs, vrrp.rst): bridge mode, MAC 00:00:5e:00:01:VRID (IPv4) / 00:00:5e:00:02:VRID
#     (IPv6), addrgenmode random, carrying the virtual addresses; it keeps them protodown while BACKUP.
#   * fabric(): the routed lab of bgp_announce (docs/bgp.md):
#       client c (192.0.2.2, 2001:db8::2) -- lan "edge" -- router r (FRR zebra+bgpd+bfdd, AS 65000,
#       ECMP, BFD 100 ms) -- lan "fabric" 198.51.100.0/24, 2001:db8:1::/64 (or, routed, one LAN per
#       node) -- nodes n1..nN, each with its own FRR (zebra+bgpd+bfdd, AS 6500N) redistributing the
#       connected routes of the anchors pka-bgp (as is) and pka-bgpb (MED 200 and AS-path prepended:
#       the backups' announcements). The VIPs (203.0.113.10, 2001:db8:ff::10) are in no LAN: the
#       client reaches them only through the routes the nodes announce.
"""FRR daemons (vrrpd, bgpd, bfdd) in namespace labs, and the routed lab of bgp_announce."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pykeepalived.lab.netns import Host, Lab

FRR_DIR = Path("/usr/lib/frr")


def frr_available(daemons: tuple[str, ...] = ("zebra", "vrrpd")) -> str | None:
    """None if FRR can run here, else the reason."""
    for exe in daemons:
        if not (FRR_DIR / exe).exists():
            return f"{FRR_DIR / exe} not installed"
    if shutil.which("vtysh") is None:
        return "vtysh not installed"
    try:
        shutil.chown  # noqa: B018
        import pwd

        pwd.getpwnam("frr")
    except KeyError:
        return "no 'frr' user (the packaged daemons drop privileges to it)"
    return None


class FrrNode:
    def __init__(self, host: Host, vrrpd_conf: str | None = None, *,
                 confs: dict[str, str] | None = None) -> None:
        """`confs`: daemon name -> its configuration, started in that order after zebra (default:
        vrrpd with `vrrpd_conf`)."""
        self.host = host
        self.dir = Path(tempfile.mkdtemp(prefix=f"pyka-frr-{host.name}-"))
        self.confs = confs if confs is not None else {"vrrpd": vrrpd_conf or ""}
        zebra = self.confs.pop("zebra", "")
        (self.dir / "zebra.conf").write_text(f"hostname {host.name}-zebra\n{zebra}")
        for name, conf in self.confs.items():
            (self.dir / f"{name}.conf").write_text(f"hostname {host.name}-{name}\n{conf}")
        for p in [self.dir, *self.dir.iterdir()]:
            shutil.chown(p, "frr", "frr")
        self.procs: list[subprocess.Popen[bytes]] = []

    def macvlan(self, vrid: int, family: int, addrs: tuple[str, ...], parent: str = "eth0") -> str:
        """Create the macvlan vrrpd expects for (vrid, family) with the virtual addresses on it."""
        name = f"vrrp{family}-{vrid}"
        mac = f"00:00:5e:00:0{1 if family == 4 else 2}:{vrid:02x}"
        cmds = [
            f"ip link add {name} link {parent} type macvlan mode bridge",
            f"ip link set {name} addrgenmode random",
            f"ip link set {name} address {mac}",
            *(f"ip addr add {a} dev {name}" + (" nodad" if family == 6 else "") for a in addrs),
            f"ip link set {name} up",
        ]
        self.host.run(" && ".join(cmds))
        return name

    def _daemon(self, name: str) -> subprocess.Popen[bytes]:
        d = self.dir
        argv = [
            str(FRR_DIR / name), "-u", "frr", "-g", "frr", "-P", "0", "-i", f"{d}/{name}.pid",
            "-f", f"{d}/{name}.conf", "-z", f"{d}/zserv.api", "--vty_socket", str(d),
            "--log", f"file:{d}/{name}.log",
        ]
        out = open(d / f"{name}.out", "ab")  # noqa: SIM115 - owned by the process
        proc = self.host.popen(argv, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.procs.append(proc)
        return proc

    def start(self) -> FrrNode:
        self._daemon("zebra")
        deadline = time.monotonic() + 10
        while not (self.dir / "zserv.api").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"zebra did not start: {self.logs()}")
            time.sleep(0.05)
        for name in self.confs:
            self._daemon(name)
            deadline = time.monotonic() + 10
            while not (self.dir / f"{name}.vty").exists():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start: {self.logs()}")
                time.sleep(0.05)
        return self

    def vtysh(self, *cmds: str) -> str:
        argv = ["vtysh", "--vty_socket", str(self.dir)]
        for c in cmds:
            argv += ["-c", c]
        return self.host.run(argv)

    def show(self, vrid: int) -> dict[str, object]:
        data = json.loads(self.vtysh(f"show vrrp {vrid} json"))
        found = data[0] if isinstance(data, list) else data
        return found if isinstance(found, dict) else {}

    def status(self, vrid: int, family: int = 4) -> str:
        """'Master', 'Backup', 'Initialize' for the v4 or v6 virtual router."""
        v = self.show(vrid).get(f"v{family}", {})
        return str(v.get("status", "")) if isinstance(v, dict) else ""

    def stats(self, vrid: int, family: int = 4) -> dict[str, object]:
        v = self.show(vrid).get(f"v{family}", {})
        return v if isinstance(v, dict) else {}

    def logs(self) -> str:
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.dir.glob("*.log"))
        ) + "\n".join(p.read_text(errors="replace") for p in self.dir.glob("*.out"))

    def stop(self, *, hard: bool = False) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill() if hard else p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()

    def cleanup(self) -> None:
        self.stop(hard=True)
        if not os.environ.get("PYKA_KEEP_LOGS"):
            shutil.rmtree(self.dir, ignore_errors=True)


VIP4 = "203.0.113.10"
VIP6 = "2001:db8:ff::10"
DAEMONS = ("zebra", "bgpd", "bfdd")
BFD = """bfd
 profile fast
  receive-interval 100
  transmit-interval 100
 exit
exit
"""


def why_not() -> str | None:
    """None if the routed lab can run here, else the reason."""
    return frr_available(DAEMONS)


def _neighbor(addr: str, asn: int, extra: tuple[str, ...] = ()) -> list[str]:
    return [f" neighbor {addr} remote-as {asn}", f" neighbor {addr} bfd profile fast",
            f" neighbor {addr} timers 3 9", f" neighbor {addr} timers connect 1",
            f" neighbor {addr} advertisement-interval 0", *(f" neighbor {addr} {x}" for x in extra)]


def router_conf(nodes: list[tuple[str, str]]) -> str:
    lines = ["router bgp 65000", " bgp router-id 198.51.100.1", " no bgp ebgp-requires-policy",
             " no bgp default ipv4-unicast", " bgp bestpath as-path multipath-relax"]
    for i, (v4, v6) in enumerate(nodes):
        lines += _neighbor(v4, 65001 + i) + _neighbor(v6, 65001 + i)
    lines += [" address-family ipv4 unicast", "  maximum-paths 8",
              *(f"  neighbor {v4} activate" for v4, _ in nodes), " exit-address-family",
              " address-family ipv6 unicast", "  maximum-paths 8",
              *(f"  neighbor {v6} activate" for _, v6 in nodes), " exit-address-family", "exit"]
    return "\n".join(lines) + "\n"


def node_conf(asn: int, rid: str, up4: str, up6: str) -> str:
    lines = ["route-map PYKA permit 10", " match interface pka-bgp", "exit",
             "route-map PYKA permit 20", " match interface pka-bgpb", " set metric 200",
             f" set as-path prepend {asn} {asn}", "exit",
             "route-map NONE deny 10", "exit",
             f"router bgp {asn}", f" bgp router-id {rid}", " no bgp ebgp-requires-policy",
             " no bgp default ipv4-unicast",
             *_neighbor(up4, 65000), *_neighbor(up6, 65000),
             " address-family ipv4 unicast", f"  neighbor {up4} activate",
             f"  neighbor {up4} route-map NONE in",
             "  redistribute connected route-map PYKA", " exit-address-family",
             " address-family ipv6 unicast", f"  neighbor {up6} activate",
             f"  neighbor {up6} route-map NONE in",
             "  redistribute connected route-map PYKA", " exit-address-family", "exit"]
    return "\n".join(lines) + "\n"


@dataclass
class Fabric:
    lab: Lab
    router: Host
    client: Host
    nodes: list[Host]
    frr: dict[str, FrrNode] = field(default_factory=dict)

    def routes(self, vip: str = VIP4) -> set[str]:
        """The router's kernel next hops for the VIP (host addresses of the nodes)."""
        fam = "-6" if ":" in vip else "-4"
        out = self.router.run(["ip", fam, "route", "show", vip], check=False)
        return set(re.findall(r"via (?:inet6 )?([0-9a-f.:]+)", out))

    def node_of(self, addr: str) -> str:
        for h in self.nodes:
            if addr in (str(h.ifaces[0].ipv4.ip), str(h.ifaces[0].ipv6.ip)):
                return h.name
            if addr.startswith("fe80:") and addr in h.run("ip -6 addr show dev eth0 scope link"):
                return h.name
        return "?"

    def fetch(self, vip: str = VIP4, timeout: float = 1) -> str:
        """What the client gets from http://VIP/ (the node's name), "" if nothing answers."""
        url = f"http://[{vip}]/" if ":" in vip else f"http://{vip}/"
        return self.client.run(["curl", "-s", "--max-time", str(timeout), url], check=False).strip()

    def serving(self, vip: str = VIP4) -> set[str]:
        return {self.node_of(a) for a in self.routes(vip)}

    def bgp(self, host: str, cmd: str) -> str:
        return self.frr[host].vtysh(cmd)

    def logs(self) -> str:
        return "\n".join(f"==== FRR {n}\n{f.logs()}" for n, f in self.frr.items())


@contextlib.contextmanager
def fabric(nodes: int = 2, prefix: str = "p19", *, routed: bool = False,
           lab_prefix: str | None = None) -> Iterator[Fabric]:
    """The lab with every FRR started (sessions establish in the background). `routed`: each node
    on a LAN of its own to the router (198.51.100.16k/28, 2001:db8:1:k::/64) instead of one shared
    LAN: nothing but routing between the nodes."""
    with Lab(prefix=lab_prefix or f"{prefix}{os.getpid() % 10000}-") as lab:
        edge = lab.add_lan("edge", "192.0.2.0/24", "2001:db8::/64")
        if routed:
            segs = [lab.add_lan(f"seg{i}", f"198.51.100.{16 * i}/28", f"2001:db8:1:{i}::/64")
                    for i in range(nodes)]
            lans = segs
        else:
            segs = [lab.add_lan("fabric", "198.51.100.0/24", "2001:db8:1::/64")]
            lans = segs * nodes
        router = lab.add_host("r", [edge, *segs], forwarding=True)
        router.sysctl("net/ipv4/fib_multipath_hash_policy", 1)  # ECMP on the 5-tuple: flows spread
        router.sysctl("net/ipv6/fib_multipath_hash_policy", 1)
        client = lab.add_host("c", [edge])
        client.run("ip route add default via 192.0.2.1 && ip -6 route add default via 2001:db8::1")
        hosts = [lab.add_host(f"n{i + 1}", [lans[i]]) for i in range(nodes)]
        f = Fabric(lab, router, client, hosts)
        ups = [router.iface(lan) for lan in lans]
        try:
            for h, up in zip(hosts, ups, strict=True):
                h.run(f"ip route add default via {up.ipv4.ip} && ip -6 route add default via {up.ipv6.ip}")
            pairs = [(str(h.ifaces[0].ipv4.ip), str(h.ifaces[0].ipv6.ip)) for h in hosts]
            f.frr["r"] = FrrNode(router, confs={"bfdd": BFD, "bgpd": router_conf(pairs)}).start()
            for i, h in enumerate(hosts):
                conf = node_conf(65001 + i, pairs[i][0], str(ups[i].ipv4.ip), str(ups[i].ipv6.ip))
                f.frr[h.name] = FrrNode(h, confs={"bfdd": BFD, "bgpd": conf}).start()
            yield f
        finally:
            for fn in f.frr.values():
                fn.cleanup()
