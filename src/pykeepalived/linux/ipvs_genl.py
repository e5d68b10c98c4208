"""The IPVS generic-netlink commands pyroute2's IPVS client lacks: connection timeouts, the sync
daemon and flush.

# Theory of operation
pyroute2 0.9 describes IPVS_CMD_ATTR_DAEMON and the IPVS_CMD_ATTR_TIMEOUT_* attributes as opaque
"hex", so they can be neither sent nor read. `IpvsMsg` is pyroute2's `ipvsmsg` (same service and dest
nests) with those attributes
typed after the kernel's policy (include/uapi/linux/ip_vs.h, net/netfilter/ipvs/ip_vs_ctl.c
ip_vs_genl_policy / ip_vs_daemon_policy): the timeouts are u32 seconds, the daemon is a nest of
STATE (u32), MCAST_IFN (string), SYNC_ID (u32), SYNC_MAXLEN (u16), MCAST_GROUP (in_addr),
MCAST_GROUP6 (in6_addr), MCAST_PORT (u16, host order) and MCAST_TTL (u8). `IpvsSocket` is pyroute2's
synchronous IPVS socket bound with `IpvsMsg`, so service/dest calls keep working and replies decode
the new attributes too; `command()` sends any IPVS_CMD_* with raw attributes.

The functions below mirror keepalived's libipvs (ipvs_set_timeout, ipvs_start_daemon, ...) and
`ipvs_strerror` gives libipvs's message for an errno, so log lines read like keepalived's
(`IPVS cmd IP_VS_SO_SET_STARTDAEMON(1163) error: Daemon has already run(17)`).
`IpvsWorker` runs one socket in a dedicated thread for asyncio callers (pyroute2's synchronous
socket runs an event loop of its own, so it cannot be used on the daemon's loop).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pyroute2 import IPVS
from pyroute2.ipvs import AsyncIPVS
from pyroute2.netlink import NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, genlmsg, nla
from pyroute2.netlink.generic import ipvs as genl_ipvs
from pyroute2.netlink.generic.ipvs import GENL_NAME, GENL_VERSION, ipvsmsg

T = TypeVar("T")

IPVS_CMD_NEW_DAEMON = genl_ipvs.IPVS_CMD_NEW_DAEMON
IPVS_CMD_DEL_DAEMON = genl_ipvs.IPVS_CMD_DEL_DAEMON
IPVS_CMD_GET_DAEMON = genl_ipvs.IPVS_CMD_GET_DAEMON
IPVS_CMD_SET_CONFIG = genl_ipvs.IPVS_CMD_SET_CONFIG
IPVS_CMD_GET_CONFIG = genl_ipvs.IPVS_CMD_GET_CONFIG
IPVS_CMD_FLUSH = genl_ipvs.IPVS_CMD_FLUSH

IP_VS_STATE_MASTER = 0x1
IP_VS_STATE_BACKUP = 0x2

# keepalived logs IPVS commands by their old setsockopt names (ip_vs.h IP_VS_BASE_CTL + n)
_IP_VS_BASE_CTL = 64 + 1024 + 64
SO_SET_FLUSH = ("IP_VS_SO_SET_FLUSH", _IP_VS_BASE_CTL + 5)
SO_SET_TIMEOUT = ("IP_VS_SO_SET_TIMEOUT", _IP_VS_BASE_CTL + 10)
SO_SET_STARTDAEMON = ("IP_VS_SO_SET_STARTDAEMON", _IP_VS_BASE_CTL + 11)
SO_SET_STOPDAEMON = ("IP_VS_SO_SET_STOPDAEMON", _IP_VS_BASE_CTL + 12)

_SPECIFIC = {("start_daemon", errno.EEXIST): "Daemon has already run",
             ("stop_daemon", errno.ESRCH): "No daemon is running"}
_GENERIC = {
    errno.ESRCH: "No such service",
    errno.EPERM: "Permission denied (you must be root)",
    errno.EINVAL: "Invalid operation.  Possibly wrong module version, address not unicast, ...",
    errno.ENOPROTOOPT: "Protocol not available",
    errno.ENOMEM: "Memory allocation problem",
    errno.EOPNOTSUPP: "Operation not supported with IPv6",
    errno.EAFNOSUPPORT: "Operation not supported with specified address family",
    errno.EMSGSIZE: "Module is wrong version",
}


def ipvs_strerror(func: str, err: int) -> str:
    """libipvs ipvs_strerror: the message keepalived logs for `err` after libipvs function `func`."""
    return _SPECIFIC.get((func, err)) or _GENERIC.get(err) or os.strerror(err)


class IpvsMsg(genlmsg):  # type: ignore[misc]
    # not a subclass of ipvsmsg: pyroute2 compiles an nla_map once per class hierarchy, so a subclass
    # would silently encode with the parent's map once the parent has been used
    prefix = "IPVS_CMD_ATTR_"
    service = ipvsmsg.service
    dest = ipvsmsg.dest
    nla_map = (
        ("IPVS_CMD_ATTR_UNSPEC", "none"),
        ("IPVS_CMD_ATTR_SERVICE", "service"),
        ("IPVS_CMD_ATTR_DEST", "dest"),
        ("IPVS_CMD_ATTR_DAEMON", "daemon"),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP", "uint32"),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", "uint32"),
        ("IPVS_CMD_ATTR_TIMEOUT_UDP", "uint32"),
    )

    class daemon(nla):  # type: ignore[misc]
        prefix = "IPVS_DAEMON_ATTR_"
        nla_map = (
            ("IPVS_DAEMON_ATTR_UNSPEC", "none"),
            ("IPVS_DAEMON_ATTR_STATE", "uint32"),
            ("IPVS_DAEMON_ATTR_MCAST_IFN", "asciiz"),
            ("IPVS_DAEMON_ATTR_SYNC_ID", "uint32"),
            ("IPVS_DAEMON_ATTR_SYNC_MAXLEN", "uint16"),
            ("IPVS_DAEMON_ATTR_MCAST_GROUP", "ip4addr"),
            ("IPVS_DAEMON_ATTR_MCAST_GROUP6", "ip6addr"),
            ("IPVS_DAEMON_ATTR_MCAST_PORT", "uint16"),
            ("IPVS_DAEMON_ATTR_MCAST_TTL", "uint8"),
        )


class _AsyncIpvsSocket(AsyncIPVS):  # type: ignore[misc]
    async def setup_endpoint(self) -> None:
        if getattr(self.local, "transport", None) is not None:
            return
        # skip AsyncIPVSSocket's own bind (with pyroute2's ipvsmsg): bind with IpvsMsg instead
        await super(genl_ipvs.AsyncIPVSSocket, self).setup_endpoint()
        await self.bind(GENL_NAME, IpvsMsg)

    async def command(self, cmd: int, attrs: list[Any], dump: bool) -> list[Any]:
        msg = IpvsMsg()
        msg["cmd"] = cmd
        msg["version"] = GENL_VERSION
        msg["attrs"] = attrs
        flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else NLM_F_ACK)
        return list(await self._do_request(msg, msg_flags=flags))


class IpvsSocket(IPVS):  # type: ignore[misc]
    """pyroute2's IPVS socket, decoding and sending the daemon and timeout attributes too."""

    async_class = _AsyncIpvsSocket

    def command(self, cmd: int, attrs: Iterable[Any] = (), dump: bool = False) -> list[Any]:
        return self._run_with_cleanup(self.asyncore.command, cmd, list(attrs), dump)  # type: ignore[no-any-return]


# -- timeouts ---------------------------------------------------------------------------------------
def get_timeouts(sock: IpvsSocket) -> tuple[int, int, int]:
    """IPVS_CMD_GET_CONFIG: (tcp, tcpfin, udp) seconds, as `ipvsadm -L --timeout` shows them."""
    for msg in sock.command(IPVS_CMD_GET_CONFIG):
        get = msg.get_attr
        tcp, fin, udp = (get("IPVS_CMD_ATTR_TIMEOUT_TCP"), get("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN"),
                         get("IPVS_CMD_ATTR_TIMEOUT_UDP"))
        if tcp is not None:
            return int(tcp), int(fin or 0), int(udp or 0)
    raise OSError(errno.EIO, "no IPVS configuration in the reply")


def set_timeouts(sock: IpvsSocket, tcp: int, tcpfin: int, udp: int) -> None:
    """IPVS_CMD_SET_CONFIG with all three values (the kernel ignores a 0)."""
    sock.command(IPVS_CMD_SET_CONFIG, [("IPVS_CMD_ATTR_TIMEOUT_TCP", tcp),
                                       ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", tcpfin),
                                       ("IPVS_CMD_ATTR_TIMEOUT_UDP", udp)])


# -- flush and the sync daemon -----------------------------------------------------------------------
def flush(sock: IpvsSocket) -> None:
    """IPVS_CMD_FLUSH: every virtual service of the namespace, ours or not (`ipvsadm -C`)."""
    sock.command(IPVS_CMD_FLUSH)


def new_daemon(sock: IpvsSocket, state: int, ifname: str, syncid: int, maxlen: int = 0, port: int = 0,
               ttl: int = 0, group: str | None = None) -> None:
    """IPVS_CMD_NEW_DAEMON (libipvs ipvs_start_daemon): optional attributes only when set."""
    attrs: list[tuple[str, Any]] = [("IPVS_DAEMON_ATTR_STATE", state), ("IPVS_DAEMON_ATTR_MCAST_IFN", ifname),
                                    ("IPVS_DAEMON_ATTR_SYNC_ID", syncid)]
    if maxlen:
        attrs.append(("IPVS_DAEMON_ATTR_SYNC_MAXLEN", maxlen))
    if port:
        attrs.append(("IPVS_DAEMON_ATTR_MCAST_PORT", port))
    if ttl:
        attrs.append(("IPVS_DAEMON_ATTR_MCAST_TTL", ttl))
    if group:
        attrs.append((f"IPVS_DAEMON_ATTR_MCAST_GROUP{'6' if ':' in group else ''}", group))
    sock.command(IPVS_CMD_NEW_DAEMON, [("IPVS_CMD_ATTR_DAEMON", {"attrs": attrs})])


def del_daemon(sock: IpvsSocket, state: int, syncid: int = 0) -> None:
    """IPVS_CMD_DEL_DAEMON (libipvs ipvs_stop_daemon)."""
    sock.command(IPVS_CMD_DEL_DAEMON, [("IPVS_CMD_ATTR_DAEMON", {"attrs": [
        ("IPVS_DAEMON_ATTR_STATE", state), ("IPVS_DAEMON_ATTR_SYNC_ID", syncid)]})])


def daemons(sock: IpvsSocket) -> list[dict[str, Any]]:
    """IPVS_CMD_GET_DAEMON: the running sync daemons as {state, ifname, syncid, ...}."""
    out = []
    for msg in sock.command(IPVS_CMD_GET_DAEMON, dump=True):
        d = msg.get_attr("IPVS_CMD_ATTR_DAEMON")
        if d is None:
            continue
        get = d.get_attr
        out.append({"state": get("IPVS_DAEMON_ATTR_STATE"), "ifname": get("IPVS_DAEMON_ATTR_MCAST_IFN"),
                    "syncid": get("IPVS_DAEMON_ATTR_SYNC_ID"), "maxlen": get("IPVS_DAEMON_ATTR_SYNC_MAXLEN"),
                    "group": get("IPVS_DAEMON_ATTR_MCAST_GROUP") or get("IPVS_DAEMON_ATTR_MCAST_GROUP6"),
                    "port": get("IPVS_DAEMON_ATTR_MCAST_PORT"), "ttl": get("IPVS_DAEMON_ATTR_MCAST_TTL")})
    return out


def netlink_errno(exc: BaseException) -> int:
    """The errno of a failed IPVS call (pyroute2's NetlinkError or an OSError)."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return abs(code)
    return getattr(exc, "errno", None) or errno.EIO


class IpvsWorker:
    """One `IpvsSocket` in a dedicated thread; `call(fn, *args)` runs `fn(sock, *args)` there, in order.
    Opening fails (OSError/NetlinkError) when the kernel has no IPVS."""

    def __init__(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ipvs")
        try:
            self.sock: IpvsSocket = self._pool.submit(self._open).result()
        except BaseException:
            self._pool.shutdown()
            raise

    @staticmethod
    def _open() -> IpvsSocket:
        sock = IpvsSocket()
        sock.command(IPVS_CMD_GET_CONFIG)  # binds now: a kernel without IPVS fails here, not later
        return sock

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self._pool.submit(fn, self.sock, *args))

    def close(self) -> None:
        self._pool.submit(self.sock.close).result()
        self._pool.shutdown()
