"""GARP / unsolicited NA scheduling on the wire, keepalived 2.2.7 and pykeepalived side by side.

Each test runs the same config on n1 with keepalived, then with pykeepalived, capturing the frames
n2 receives, and compares the two timelines (which address, when after the first frame) with
tolerant bounds: garp_master_refresh (+ refresh_repeat), vrrp_garp_interval / vrrp_gna_interval
spacing (keepalived.md §5.7), vrrp_min_garp. No timing is asserted beyond what keepalived shows.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import struct
import time

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.capture import Capture, read_pcap
from pykeepalived.lab.node import Node, instance_conf, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

Timeline = list[tuple[float, str]]  # (seconds after the first frame, "arp 192.0.2.100" / "na 2001:db8::100")


def announcements(path: os.PathLike[str]) -> Timeline:
    """Gratuitous ARPs (request, sender IP = target IP) and unsolicited NAs (ICMPv6 136) in a capture."""
    out: list[tuple[float, str]] = []
    for t, f in read_pcap(path):  # type: ignore[arg-type]
        etype = struct.unpack_from("!H", f, 12)[0] if len(f) >= 14 else 0
        p = f[14:]
        if etype == 0x0806 and len(p) >= 28 and p[6:8] == b"\x00\x01" and p[14:18] == p[24:28]:
            out.append((t, f"arp {ipaddress.IPv4Address(p[14:18])}"))
        elif etype == 0x86DD and len(p) >= 64 and p[6] == 58 and p[40] == 136:
            out.append((t, f"na {ipaddress.IPv6Address(p[48:64])}"))
    if not out:
        return []
    t0 = out[0][0]
    return [(t - t0, what) for t, what in out]


def run(lab: Lab, nodes: list[Node], impl: str, conf: str, watch: float) -> Timeline:
    """n1 alone runs `conf`; n2 captures for `watch` seconds after n1 claims its VIP."""
    cap = Capture(lab["n2"], "arp or icmp6")
    node = Node(lab["n1"], conf, impl=impl)
    nodes.append(node)
    try:
        node.start()
        wait_for(lambda: node.has("192.0.2.100"), 15)
        time.sleep(watch)
        node.stop()
    finally:
        path = cap.stop()
    timeline = announcements(path)
    cap.cleanup()
    return timeline


def bursts(timeline: Timeline, gap: float = 0.6) -> list[tuple[float, list[str]]]:
    """Group frames less than `gap` s after the previous one: [(start, sorted frames)]."""
    out: list[tuple[float, list[str]]] = []
    last = -1e9
    for t, what in timeline:
        if t - last >= gap:
            out.append((t, []))
        out[-1][1].append(what)
        last = t
    return [(start, sorted(frames)) for start, frames in out]


def same_schedule(ka: Timeline, py: Timeline, tol: float = 0.5) -> str | None:
    """None when both have the same bursts (same frames, starts within `tol` s), else why not."""
    bk, bp = bursts(ka), bursts(py)
    if [b[1] for b in bk] != [b[1] for b in bp]:
        return f"bursts differ:\nka {bk}\npy {bp}"
    for (tk, _), (tp, _) in zip(bk, bp, strict=True):
        if abs(tk - tp) > tol:
            return f"burst at {tk:.2f} s (ka) vs {tp:.2f} s (py):\nka {bk}\npy {bp}"
    return None


def test_garp_master_refresh(lab: Lab, nodes: list[Node]) -> None:
    """garp_master_delay 1: second burst; garp_master_refresh 2 with refresh_repeat 2: two rounds at each
    refresh, checked when an advert goes out (keepalived.md §5.7)."""
    conf = instance_conf(extra="    garp_master_repeat 2\n    garp_master_delay 1\n"
                               "    garp_master_refresh 2\n    garp_master_refresh_repeat 2\n")
    ka = run(lab, nodes, "ka", conf, 6.5)
    py = run(lab, nodes, "py", conf, 6.5)
    assert len(bursts(ka)) >= 4, ka  # the oracle shows the schedule we compare with
    why = same_schedule(ka, py)
    assert why is None, why


def test_vrrp_min_garp(lab: Lab, nodes: list[Node]) -> None:
    """vrrp_min_garp: one GARP per address on becoming MASTER, no second burst after 5 s."""
    conf = instance_conf(globals_="    vrrp_min_garp", vips=("192.0.2.100/24", "192.0.2.101/24"))
    ka = run(lab, nodes, "ka", conf, 6)
    py = run(lab, nodes, "py", conf, 6)
    assert sorted(w for _, w in ka) == ["arp 192.0.2.100", "arp 192.0.2.101"], ka
    assert sorted(w for _, w in py) == sorted(w for _, w in ka), (ka, py)


GARP_GROUP = """
garp_group {
    garp_interval 0.3
    gna_interval 0.4
    interface eth0
}
"""


@pytest.mark.parametrize("where", ["global", "garp_group"])
def test_garp_gna_interval_spacing(lab: Lab, nodes: list[Node], where: str) -> None:
    """vrrp_garp_interval / vrrp_gna_interval (or a garp_group's intervals for its interfaces): frames
    on an interface at least that far apart; an address asked for again while queued is sent once
    (keepalived 2.2.7 keeps a flag, not a count)."""
    conf = instance_conf(
        globals_="    vrrp_garp_interval 0.3\n    vrrp_gna_interval 0.4" if where == "global" else "",
        vips=("192.0.2.100/24", "192.0.2.101/24"),
        extra="    garp_master_repeat 3\n    garp_master_delay 0\n"
              "    virtual_ipaddress_excluded {\n        2001:db8::100/64\n    }\n",
    )
    if where == "garp_group":
        conf += GARP_GROUP
    ka = run(lab, nodes, "ka", conf, 2.5)
    py = run(lab, nodes, "py", conf, 2.5)
    for name, tl in (("ka", ka), ("py", py)):
        arps = [t for t, w in tl if w.startswith("arp")]
        nas = [t for t, w in tl if w.startswith("na")]
        assert all(b - a > 0.25 for a, b in itertools.pairwise(arps)), (name, tl)
        assert all(b - a > 0.35 for a, b in itertools.pairwise(nas)), (name, tl)
    assert sorted(w for _, w in py) == sorted(w for _, w in ka), (ka, py)
    # same order, each frame within 0.2 s of keepalived's
    assert [w for _, w in py] == [w for _, w in ka], (ka, py)
    kt = {w: [t for t, x in ka if x == w] for _, w in ka}
    pt = {w: [t for t, x in py if x == w] for _, w in py}
    for w, times in kt.items():
        for a, b in zip(times, pt[w], strict=True):
            assert abs(a - b) < 0.2, (w, ka, py)
