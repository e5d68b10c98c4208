# Theory of operation
# -------------------
# The only code that touches the kernel. Everything is asyncio-friendly: raw sockets are
# non-blocking and driven by loop.add_reader, netlink goes through pyroute2's AsyncIPRoute, and the
# few /proc/sys accesses are microsecond file writes. All of it works in the network namespace of
# the calling thread (the daemon's; in tests a thread that joined a lab namespace), so never hand
# these calls to a thread pool: a pool thread may live in another namespace.
#
#   iface        interface facts (ifindex, MAC, flags, primary IPv4, link-local IPv6, forwarding)
#   vrrp_socket  raw VRRP sockets per (interface, family, group | unicast source); pool by VRID
#   addresses    VIPs/eVIPs/static addresses, routes, rules over netlink (idempotent), restore
#   garp         AF_PACKET senders for gratuitous ARP / unsolicited NA frames
#   vmac         use_vmac macvlans, keepalived names, MACs and sysctls (restored on close)
#   monitor      link / address / keepalived-route events from rtnetlink
#   rtnl         AsyncIPRoute (import it from there)
#
# Lean pyroute2:
# pyroute2's package __init__ imports every family it supports (IPDB, NDB, conntrack, nftables,
# nl80211, wireguard, plan9, ...): about 6 MB of a Python process that only needs rtnetlink. The
# daemon's processes need AsyncIPRoute alone, so before the first pyroute2 import this package puts
# a lazy stand-in for the `pyroute2` package in sys.modules: its submodules import as usual from
# the package directory, and the first use of any top-level name (`from pyroute2 import IPVS`,
# `pyroute2.__version__`) runs the real __init__ into that same module object, so nothing else
# notices. If pyroute2 was already imported, nothing is changed.
"""Linux network I/O for pykeepalived (and a lazy `pyroute2` package, see above)."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any


def _lazy_pyroute2() -> None:
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return
    mod = importlib.util.module_from_spec(spec)
    loader = spec.loader
    state = {"loaded": False}

    def __getattr__(name: str) -> Any:  # PEP 562: the whole package on first use of a top-level name
        if state["loaded"] or importlib.util.find_spec(f"pyroute2.{name}"):
            # a submodule (`from pyroute2 import config`): let the import system load just that one
            raise AttributeError(f"module 'pyroute2' has no attribute {name!r}")
        state["loaded"] = True
        loader.exec_module(mod)
        return getattr(mod, name)

    mod.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules["pyroute2"] = mod


_lazy_pyroute2()
