"""Helpers for driving one VrrpInstance by hand with real encoded packets."""

from __future__ import annotations

from ipaddress import ip_address

from pykeepalived.vrrp.effects import Effect, Log, LogLevel, StateChanged, Transmit
from pykeepalived.vrrp.packet import Advertisement, RxPacket, build_ipv4_datagram, encode_advert
from pykeepalived.vrrp.params import SEC, InstanceParams


def mk(**kw: object) -> InstanceParams:
    base: dict[str, object] = dict(
        name="VI_1",
        vrid=51,
        family=4,
        version=2,
        base_priority=100,
        interface="eth0",
        adver_int_us=SEC,
        vips=(ip_address("192.0.2.100"),),
        src_ip=ip_address("192.0.2.1"),
    )
    base.update(kw)
    return InstanceParams(**base)  # type: ignore[arg-type]


def rx(
    priority: int,
    src: str = "192.0.2.2",
    *,
    version: int = 2,
    vrid: int = 51,
    adver_int: int | None = None,
    vips: tuple[str, ...] = ("192.0.2.100",),
    dst: str = "224.0.0.18",
    ttl: int = 255,
    auth_data: bytes | None = None,
) -> RxPacket:
    """A real IPv4 VRRP datagram as the Linux layer would deliver it."""
    if adver_int is None:
        adver_int = 1 if version == 2 else 100
    s, d = ip_address(src), ip_address(dst)
    adv = Advertisement(
        version=version,
        vrid=vrid,
        priority=priority,
        adver_int=adver_int,
        addresses=tuple(ip_address(v) for v in vips),
        auth_type=0,
        auth_data=(bytes(8) if auth_data is None else auth_data) if version == 2 else b"",
    )
    pdu = encode_advert(adv, src=s, dst=d)
    data = build_ipv4_datagram(pdu, src=s, dst=d, ttl=ttl, ident=1)
    return RxPacket(0, 4, s, d, ttl, data)


def texts(effects: list[Effect], level: LogLevel | None = LogLevel.INFO) -> list[str]:
    return [e.text for e in effects if isinstance(e, Log) and (level is None or e.level == level)]


def kinds(effects: list[Effect]) -> list[str]:
    """Compact effect list: type names, with Transmit priority and StateChanged target state."""
    out = []
    for e in effects:
        if isinstance(e, Transmit):
            out.append(f"Transmit({e.priority})")
        elif isinstance(e, StateChanged):
            out.append(f"StateChanged({e.new.name})")
        elif isinstance(e, Log) or getattr(e, "init", False):  # log-only init ReleaseAddresses
            continue
        else:
            out.append(type(e).__name__)
    return out
