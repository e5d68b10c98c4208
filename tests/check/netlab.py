"""A small namespace lab for the load-balancing tests (client, director, real servers on a back bridge)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def nsx(ns: str, *args: str) -> None:
    sh("ip", "netns", "exec", ns, *args)


@dataclass
class Lab:
    prefix: str
    client: str = ""
    director: str = ""
    servers: dict[str, str] = field(default_factory=dict)  # netns → address


@contextlib.contextmanager
def lb_lab(rs_addrs: list[str], vip: str = "198.51.100.10", tag: str = "") -> Iterator[Lab]:
    """client 198.51.100.2 —— director 198.51.100.1 (+VIP) | br0 192.0.2.1 —— real servers."""
    p = f"pkck{os.getpid() % 100000}{tag}"
    lab = Lab(p, f"{p}c", f"{p}d")
    made: list[str] = []
    try:
        for ns in (lab.client, lab.director):
            sh("ip", "netns", "add", ns)
            made.append(ns)
            nsx(ns, "ip", "link", "set", "lo", "up")
        sh("ip", "link", "add", "c0", "netns", lab.client, "type", "veth",
           "peer", "d0", "netns", lab.director)
        nsx(lab.client, "ip", "addr", "add", "198.51.100.2/24", "dev", "c0")
        nsx(lab.client, "ip", "link", "set", "c0", "up")
        nsx(lab.client, "ip", "route", "add", "default", "via", "198.51.100.1")
        nsx(lab.director, "ip", "addr", "add", "198.51.100.1/24", "dev", "d0")
        nsx(lab.director, "ip", "addr", "add", f"{vip}/32", "dev", "d0")
        nsx(lab.director, "ip", "link", "set", "d0", "up")
        nsx(lab.director, "ip", "link", "add", "br0", "type", "bridge")
        nsx(lab.director, "ip", "addr", "add", "192.0.2.1/24", "dev", "br0")
        nsx(lab.director, "ip", "link", "set", "br0", "up")
        nsx(lab.director, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for i, addr in enumerate(rs_addrs, 1):
            ns = f"{p}r{i}"
            sh("ip", "netns", "add", ns)
            made.append(ns)
            nsx(ns, "ip", "link", "set", "lo", "up")
            sh("ip", "link", "add", "eth0", "netns", ns, "type", "veth",
               "peer", f"b{i}", "netns", lab.director)
            nsx(lab.director, "ip", "link", "set", f"b{i}", "master", "br0", "up")
            nsx(ns, "ip", "addr", "add", f"{addr}/24", "dev", "eth0")
            nsx(ns, "ip", "link", "set", "eth0", "up")
            nsx(ns, "ip", "route", "add", "default", "via", "192.0.2.1")
            lab.servers[ns] = addr
        yield lab
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "pids", ns], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
