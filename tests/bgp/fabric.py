"""A routed fabric in namespaces for bgp_announce (docs/bgp.md): tests/bgp/ and bench/.

    client c (192.0.2.2, 2001:db8::2) -- lan "edge" -- router r (FRR zebra+bgpd+bfdd, AS 65000,
    ECMP, BFD 100 ms) -- lan "fabric" 198.51.100.0/24, 2001:db8:1::/64 (or, routed, one LAN per
    node) -- nodes n1..nN, each with
    its own FRR (zebra+bgpd+bfdd, AS 6500N) redistributing the connected routes of the anchors
    pka-bgp (as is) and pka-bgpb (MED 200 and AS-path prepended: the backups' announcements).

The VIPs (203.0.113.10, 2001:db8:ff::10) are in no LAN: the client reaches them only through the
routes the nodes announce. FRR runs through tests/interop/frr.py (private dirs, sockets, pid files).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pykeepalived.lab import Host, Lab
from tests.check.servers import nginx
from tests.interop.frr import FrrNode, frr_available

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
def fabric(nodes: int = 2, prefix: str = "p19", *, routed: bool = False) -> Iterator[Fabric]:
    """The lab with every FRR started (sessions establish in the background). `routed`: each node
    on a LAN of its own to the router (198.51.100.16k/28, 2001:db8:1:k::/64) instead of one shared
    LAN: nothing but routing between the nodes."""
    with Lab(prefix=f"{prefix}{os.getpid() % 10000}-") as lab:
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


@contextlib.contextmanager
def web(hosts: list[Host], d: Path) -> Iterator[None]:
    """nginx on every node answering its node's name on port 80 (any local address)."""
    with contextlib.ExitStack() as stack:
        for h in hosts:
            site = f'server {{ listen 80; listen [::]:80; location / {{ return 200 "{h.name}\\n"; }} }}'
            stack.enter_context(nginx(d / h.name, site, netns=h.ns, wait=[(str(h.ifaces[0].ipv4.ip), 80)]))
        yield
