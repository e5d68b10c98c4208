"""nftables data plane, lb_kind DR and TUN, persistence and counters, end to end in namespaces (issue 7).

Lab (pykeepalived.lab.lb_lab with a router): client 198.51.100.2 -- director 198.51.100.1 + VIP
198.51.100.10 / 192.0.2.1 -- nginx real servers 192.0.2.11-13, whose gateway is the router
192.0.2.254, so their replies (from the VIP) reach the client without crossing the director. The
real servers hold the VIP on lo (arp_ignore 1, arp_announce 2) for DR and on an ipip device for TUN.
The NftLoadBalancer runs inside the director namespace, driven directly (no checkers)."""

from __future__ import annotations

import asyncio
import collections
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.lab import Host, LbLab, lb_lab
from pykeepalived.lab.servers import nginx
from pykeepalived.linux.nft_lb import NftLoadBalancer
from pykeepalived.lvs.model import Dest, Forwarding, LvsTable, Protocol, Service, ServiceKey, make_entry
from pykeepalived.lvs.plan import plan

VIP = "198.51.100.10"
RS = ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
CLIENT2 = "198.51.100.66"  # another /26 granularity block than 198.51.100.2

CLIENT = r"""
import socket, sys, json, collections
n, host, port, src = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = collections.Counter()
for _ in range(n):
    try:
        s = socket.create_connection((host, port), timeout=2, source_address=(src, 0))
        s.sendall(b"GET / HTTP/1.0\r\n\r\n"); data = b""
        while (chunk := s.recv(4096)): data += chunk
        s.close(); c[data.split(b"\r\n\r\n", 1)[1].decode().strip()] += 1
    except OSError as e:
        c["error"] += 1
print(json.dumps(c))
"""

# one kept-alive connection: a request, then a request per line read on stdin
STRAY_ACK = r"""
import socket, struct, sys
src, dst, dport = sys.argv[1], sys.argv[2], int(sys.argv[3])
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF
hdr = struct.pack("!HHIIBBHHH", 40000, dport, 1, 1, 5 << 4, 0x10, 65535, 0, 0)  # a bare ACK
pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr))
hdr = hdr[:16] + struct.pack("!H", csum(pseudo + hdr)) + hdr[18:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
s.bind((src, 0))
for _ in range(3):
    s.sendto(hdr, (dst, 0))
"""

KEEP = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
for line in sys.stdin:
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"\n"):
        data += s.recv(4096)
    print(data.split(b"\r\n\r\n", 1)[1].decode().strip(), flush=True)
"""


async def spread(client: Host, n: int, port: int, src: str = "198.51.100.2") -> collections.Counter[str]:
    proc = await asyncio.create_subprocess_exec(
        "ip",
        "netns",
        "exec",
        client.ns,
        sys.executable,
        "-c",
        CLIENT,
        str(n),
        VIP,
        str(port),
        src,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    return collections.Counter(json.loads(out))


def near(got: collections.Counter[str], want: dict[str, int]) -> bool:
    """The same servers and total as `want`, each count within one of it."""
    return (set(got) == set(want) and sum(got.values()) == sum(want.values())
            and all(abs(got[k] - v) <= 1 for k, v in want.items()))


def table(
    kind: Forwarding,
    port: int,
    weights: dict[str, int],
    sched: str = "wrr",
    persist: int = 0,
    gran: str | None = None,
) -> LvsTable:
    key = ServiceKey(4, Protocol.TCP, VIP, port)
    svc = Service(key, sched, persistence_timeout=persist, persistence_granularity=gran)
    return {key: make_entry(svc, [Dest(a, port, w, kind) for a, w in weights.items()])}


def _have_ipip() -> bool:
    """Whether this kernel has ipip devices (this machine's kernel lacks CONFIG_NET_IPIP)."""
    from pykeepalived.lab import Lab, LabError

    with Lab(["probe"]) as lab:
        try:
            lab["probe"].ip("link", "add", "t", "type", "ipip", "local", str(lab["probe"].ipv4))
        except LabError:
            return False
    return True


HAVE_IPIP = _have_ipip()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LbLab]:
    with lb_lab(RS, VIP, router=True) as lab:
        lab.client.ip("addr", "add", f"{CLIENT2}/24", "dev", "eth0")
        servers = []
        try:
            for i, (addr, h) in enumerate(lab.servers.items(), 1):
                h.run(
                    "sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 "
                    "net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0"
                )
                h.ip("addr", "add", f"{VIP}/32", "dev", "lo")
                if HAVE_IPIP:  # TUN: decapsulate IP-in-IP, VIP on the tunnel device
                    h.ip("link", "add", "tun0", "type", "ipip", "local", addr)
                    h.ip("link", "set", "tun0", "up")
                    h.ip("addr", "add", f"{VIP}/32", "dev", "tun0")
                body = f'location / {{ return 200 "rs{i}\\n"; }}'
                cm = nginx(
                    tmp_path / addr,
                    f"server {{ listen 80; listen 8080; listen 8081; {body} }}",
                    netns=h.ns,
                    wait=[(addr, 80)],
                )
                cm.__enter__()
                servers.append(cm)
            yield lab
        finally:
            for cm in servers:
                cm.__exit__(None, None, None)


def leftovers(director: Host) -> dict[str, str]:
    rules = director.ip("rule", "list") + director.ip("-6", "rule", "list")
    return {
        "nft": director.run(["nft", "list", "ruleset"]).strip(),
        "rules": "\n".join(
            r
            for r in rules.splitlines()
            if "lookup local" not in r and "main" not in r and "default" not in r
        ),
        "local": "\n".join(r for r in rules.splitlines() if "lookup local" in r),
        "links": "\n".join(ln for ln in director.ip("-o", "link").splitlines() if "pklb" in ln),
        "tables": director.ip("route", "show", "table", "all").count("table 18015"),
    }


@pytest.mark.netns
def test_dr_and_tun_spread_affinity_counters_cleanup(lab: LbLab) -> None:
    before = leftovers(lab.director)

    async def scenario() -> None:
        lb = NftLoadBalancer()
        await lb.flush()
        dr = table(Forwarding.DR, 80, dict(zip(RS, (1, 2, 3), strict=True)))
        tun = table(Forwarding.TUN, 8080, dict(zip(RS, (3, 0, 1), strict=True))) if HAVE_IPIP else {}
        want = {**dr, **tun}
        await lb.apply(plan(want, {}))
        # spread by weight (smooth WRR: exact over whole cycles), the replies come from the real servers
        # (within one: slack seen once under heavy load, before non-SYN packets stopped being
        # scheduled — see the stray-ACK check below; kept until the suite shows it is not needed)
        assert near(await spread(lab.client, 60, 80), {"rs1": 10, "rs2": 20, "rs3": 30})
        if HAVE_IPIP:
            assert near(await spread(lab.client, 40, 8080), {"rs1": 30, "rs3": 10})
        st = await lb.stats()
        (dkey,) = dr
        conns = {d.addr: s.conns for d, s in st[dkey].dests.items()}
        # each server's count within one of its share (the same slack as the spread above)
        assert all(abs(conns.get(a, 0) - v) <= 1 for a, v in
                   {"192.0.2.11": 10, "192.0.2.12": 20, "192.0.2.13": 30}.items()), conns
        assert all(
            s.inpkts >= 3 * s.conns and s.inbytes > 40 * s.inpkts // 2 for s in st[dkey].dests.values()
        )
        assert st[dkey].total.outpkts == 0  # DR replies do not cross the director
        # a TCP packet other than a SYN with no connection is not scheduled (IPVS: SYN only)
        lab.client.run([sys.executable, "-c", STRAY_ACK, "198.51.100.2", VIP, "80"])
        await asyncio.sleep(0.3)
        assert (await lb.stats())[dkey].total.conns == st[dkey].total.conns
        if HAVE_IPIP:
            (tkey,) = tun
            assert st[tkey].total.conns == 40

        # affinity: a kept-alive connection stays on its server while the pool changes under it
        proc = await asyncio.create_subprocess_exec(
            "ip",
            "netns",
            "exec",
            lab.client.ns,
            sys.executable,
            "-c",
            KEEP,
            VIP,
            "80",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdin and proc.stdout
        proc.stdin.write(b"\n")
        first = (await proc.stdout.readline()).decode().strip()
        assert first.startswith("rs")
        mine = RS[int(first[2:]) - 1]
        others = {a: 1 for a in RS if a != mine}
        moved = table(Forwarding.DR, 80, {**others, mine: 0})
        await lb.apply(plan({**moved, **tun}, want))
        proc.stdin.write(b"\n")
        assert (await proc.stdout.readline()).decode().strip() == first
        proc.stdin.close()
        await proc.wait()
        assert (await spread(lab.client, 4, 80))[first] == 0  # new connections avoid the weight-0 server

        await lb.apply(plan({}, {**moved, **tun}))
        await lb.flush()

    lab.director.run_async(scenario, timeout=60)
    assert leftovers(lab.director) == {**before, "nft": ""}
    assert "0:\tfrom all lookup local" in leftovers(lab.director)["local"]


@pytest.mark.netns
def test_persistence_nat_and_dr(lab: LbLab) -> None:
    # NAT replies (from the real server's own address) go back through the director, DR replies (from
    # the VIP) through the router
    for addr, h in lab.servers.items():
        h.ip("rule", "add", "from", addr, "table", "100")
        h.ip("route", "add", "default", "via", "192.0.2.1", "table", "100")

    async def scenario() -> None:
        lb = NftLoadBalancer()
        await lb.flush()
        w = {a: 1 for a in RS}
        want = {
            **table(Forwarding.DR, 80, w, "rr", 2, "255.255.255.192"),
            **table(Forwarding.NAT, 8081, w, "rr", 2, "255.255.255.192"),
        }
        await lb.apply(plan(want, {}))
        for port, kind in ((80, Forwarding.DR), (8081, Forwarding.NAT)):
            a = await spread(lab.client, 5, port)
            assert len(a) == 1 and "error" not in a, a  # one server for the whole granularity block
            b = await spread(lab.client, 5, port, CLIENT2)
            assert len(b) == 1 and b.keys() != a.keys(), (a, b)  # rr: the other block got the next one
            (srv,) = a
            addr = RS[int(srv[2:]) - 1]
            # quiesced (weight 0): persistent clients stay, as with IPVS templates
            q = dict(w, **{addr: 0})
            cur = {k: v for k, v in want.items() if k.port == port}
            nxt = table(kind, port, q, "rr", 2, "255.255.255.192")
            await lb.apply(plan(nxt, cur))
            assert await spread(lab.client, 2, port) == {srv: 2}
            # removed: its persistence entries go with it
            gone = table(kind, port, {k: v for k, v in w.items() if k != addr}, "rr", 2, "255.255.255.192")
            await lb.apply(plan(gone, nxt))
            c = await spread(lab.client, 3, port)
            assert len(c) == 1 and srv not in c and "error" not in c, c
            # expiry: idle for longer than the timeout, the block is scheduled afresh (rr: next server)
            (now,) = c
            await asyncio.sleep(3)
            d = await spread(lab.client, 1, port)
            assert "error" not in d and now not in d, (now, d)
        st = await lb.stats()
        nat = next(v for k, v in st.items() if k.port == 8081)
        assert nat.total.conns == 16 and nat.total.outpkts > 0 and nat.total.outbytes > nat.total.outpkts
        await lb.flush()

    lab.director.run_async(scenario, timeout=60)
    assert lab.director.run(["nft", "list", "ruleset"]).strip() == ""


def test_gran_mask() -> None:
    from pykeepalived.linux.nft_lb_dr import gran_mask

    assert gran_mask(4, "255.255.255.0") == "255.255.255.0"
    assert gran_mask(4, "255.255.255.255") is None and gran_mask(4, None) is None
    assert gran_mask(6, "64") == "ffff:ffff:ffff:ffff::"
    with pytest.raises(ValueError):
        gran_mask(6, "129")


def test_render_dr_service() -> None:
    """A DR service is notracked in the raw hook, dispatched in the route chain, and its slots hold the
    real servers' route marks; a persistent one consults its persistence map before the scheduler."""
    lb = NftLoadBalancer()
    t = table(Forwarding.DR, 80, {RS[0]: 1, RS[1]: 2}, "wrr", 300, "255.255.255.0")
    script = lb.render(dict(t), set(t))
    assert f"add rule ip pykeepalived_lb raw ip daddr {VIP} meta l4proto tcp th dport 80 notrack" in script
    assert "route ip daddr 198.51.100.10 meta l4proto tcp th dport 80 goto svc_1" in script
    assert "svc_1_slots { 0 : 0x6b610002, 1 : 0x6b610001, 2 : 0x6b610002 }" in script
    assert "meta mark set ip saddr & 255.255.255.0 map @svc_1_persist goto svc_1_new" in script
    assert "jump svc_1" not in script  # not in the NAT chains


@pytest.mark.netns
def test_dr_needs_forwarding_and_says_so(lab: LbLab, caplog: pytest.LogCaptureFixture) -> None:
    """DR on this plane goes through the kernel's forwarding path: with net.ipv4.ip_forward=0 the
    client's connections fail and the plane logs why (once); switched on, the same rules serve, and
    switched off again the next change logs it again. The plane never writes the sysctl itself."""
    director = lab.director
    assert director.sysctl("net/ipv4/ip_forward", 0) == "0"
    warn = "nftables data plane: net.ipv4.ip_forward is 0"

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.getMessage().startswith(warn)]

    async def scenario() -> None:
        lb = NftLoadBalancer()
        await lb.flush()
        dr = table(Forwarding.DR, 80, dict.fromkeys(RS, 1))
        await lb.apply(plan(dr, {}))
        assert director.sysctl("net/ipv4/ip_forward") == "0"
        assert await spread(lab.client, 3, 80) == {"error": 3}
        assert warnings() == [
            f"{warn}, so the kernel does not forward the packets of lb_kind DR service "
            f"[{VIP}]:tcp:80 to its real servers; set net.ipv4.ip_forward=1 "
            "(sysctl -w net.ipv4.ip_forward=1)"]
        dr2 = table(Forwarding.DR, 80, dict(dict.fromkeys(RS, 1), **{RS[0]: 2}))
        await lb.apply(plan(dr2, dr))
        assert len(warnings()) == 1  # once while it stays off

        director.sysctl("net/ipv4/ip_forward", 1)
        got = await spread(lab.client, 8, 80)
        assert "error" not in got and sum(got.values()) == 8, got
        await lb.apply(plan(dr, dr2))
        assert len(warnings()) == 1

        director.sysctl("net/ipv4/ip_forward", 0)
        await lb.apply(plan(dr2, dr))
        assert len(warnings()) == 2
        await lb.flush()

    with caplog.at_level("WARNING", logger="pykeepalived"):
        director.run_async(scenario, timeout=60)
