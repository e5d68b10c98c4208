"""The IPVS netlink messages pyroute2 lacks (linux/ipvs_genl.py): encoded as the kernel's policy wants
them and decoded back, also after pyroute2's own ipvsmsg has been used in the process (pyroute2 compiles
an attribute map once per class hierarchy: a subclass of ipvsmsg encoded the daemon nest as "hex")."""

from __future__ import annotations

import socket
import struct
from typing import Any

from pyroute2 import IPVSService
from pyroute2.netlink.generic.ipvs import ipvsmsg

from pykeepalived.linux import ipvs_genl


class Encoder:
    """Stands in for IpvsSocket.command: encodes the request exactly as the socket would send it."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def command(self, cmd: int, attrs: Any = (), dump: bool = False) -> list[Any]:
        msg = ipvs_genl.IpvsMsg()
        msg["cmd"], msg["version"], msg["attrs"] = cmd, 1, list(attrs)
        msg.encode()
        back = ipvs_genl.IpvsMsg(msg.data)
        back.decode()
        self.sent.append((msg.data, back))
        return []


def test_daemon_and_timeouts_encoding() -> None:
    used = ipvsmsg()  # pyroute2's own class first, as IpvsBackend's service calls do
    used["cmd"], used["version"], used["attrs"] = 1, 1, []
    used.encode()
    enc = Encoder()
    ipvs_genl.new_daemon(enc, ipvs_genl.IP_VS_STATE_MASTER, "eth1", 42, 1200, 8850, 3, "239.9.9.9")  # type: ignore[arg-type]
    ipvs_genl.new_daemon(enc, ipvs_genl.IP_VS_STATE_BACKUP, "eth1", 0, group="ff02::81")  # type: ignore[arg-type]
    ipvs_genl.set_timeouts(enc, 7200, 60, 120)  # type: ignore[arg-type]
    (raw, master), (_, backup), (_, timeouts) = enc.sent
    d = master.get_attr("IPVS_CMD_ATTR_DAEMON")
    assert [d.get_attr("IPVS_DAEMON_ATTR_" + a) for a in ("STATE", "MCAST_IFN", "SYNC_ID", "SYNC_MAXLEN",
                                                           "MCAST_PORT", "MCAST_TTL", "MCAST_GROUP")] == [
        1, "eth1", 42, 1200, 8850, 3, "239.9.9.9"]
    # on the wire: the port in host order (nla_get_u16 in the kernel), the group as in_addr
    assert struct.pack("=H", 8850) in raw and socket.inet_aton("239.9.9.9") in raw
    b = backup.get_attr("IPVS_CMD_ATTR_DAEMON")
    assert b.get_attr("IPVS_DAEMON_ATTR_MCAST_GROUP6") == "ff02::81"
    assert b.get_attr("IPVS_DAEMON_ATTR_SYNC_MAXLEN") is None  # optional attributes only when set
    got = [timeouts.get_attr(f"IPVS_CMD_ATTR_TIMEOUT_{a}") for a in ("TCP", "TCP_FIN", "UDP")]
    assert got == [7200, 60, 120]
    # the service nest is pyroute2's
    svc = ipvs_genl.IpvsMsg()
    svc["cmd"], svc["version"] = 1, 1
    svc["attrs"] = [("IPVS_CMD_ATTR_SERVICE", IPVSService(addr="192.0.2.1", port=80, protocol=6).dump_nla())]
    svc.encode()
    back = ipvs_genl.IpvsMsg(svc.data)
    back.decode()
    assert back.get_nested("IPVS_CMD_ATTR_SERVICE").get_attr("IPVS_SVC_ATTR_PORT") == 80


def test_strerror() -> None:
    assert ipvs_genl.ipvs_strerror("start_daemon", 17) == "Daemon has already run"
    assert ipvs_genl.ipvs_strerror("stop_daemon", 3) == "No daemon is running"
    assert ipvs_genl.ipvs_strerror("start_daemon", 3) == "No such service"
    assert ipvs_genl.ipvs_strerror("init", 19) == "No such device"
