"""Cost of the VRRP codec per advert: encode (PDU + IPv4 header) and decode + receive check."""

from __future__ import annotations

import timeit
from ipaddress import IPv4Address, IPv6Address

from pykeepalived.vrrp.packet import Advertisement, build_ipv4_datagram, encode_advert
from pykeepalived.vrrp.params import AuthType, InstanceParams
from pykeepalived.vrrp.receive import RxPacket, RxState, check_packet

SRC4, DST4 = IPv4Address("192.0.2.2"), IPv4Address("224.0.0.18")
SRC6, DST6 = IPv6Address("fe80::2"), IPv6Address("ff02::12")
VIP4, VIP6 = IPv4Address("192.0.2.100"), IPv6Address("2001:db8::100")


def _best_us(fn: object, number: int = 5000, repeat: int = 5) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6  # type: ignore[arg-type]


def _case(version: int, family: int, auth: AuthType) -> tuple[float, float]:
    vip, src, dst = (VIP4, SRC4, DST4) if family == 4 else (VIP6, SRC6, DST6)
    adv = Advertisement(
        version,
        51,
        100,
        1 if version == 2 else 100,
        (vip,),
        int(auth),
        b"secret" if auth is AuthType.PASS else b"",
    )
    p = InstanceParams(
        name="VI_1",
        vrid=51,
        family=family,
        version=version,
        base_priority=100,
        interface="eth0",
        adver_int_us=1_000_000,
        vips=(vip,),
        auth_type=auth,
        auth_pass=b"secret" if auth is AuthType.PASS else b"",
    )

    def encode() -> bytes:
        pdu = encode_advert(adv, src=src, dst=dst)
        return build_ipv4_datagram(pdu, src=src, dst=dst, ttl=255, ident=1) if family == 4 else pdu

    rx = RxPacket(2, family, src, dst, 255, encode())
    state = RxState()

    def receive() -> object:
        return check_packet(p, state, rx, own_src=src, is_master=False, current_master=None)

    assert receive().result.name == "OK"  # type: ignore[attr-defined]
    return _best_us(encode), _best_us(receive)


def main() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for label, version, family, auth in (
        ("v2 PASS IPv4", 2, 4, AuthType.PASS),
        ("v3 IPv4", 3, 4, AuthType.NONE),
        ("v3 IPv6", 3, 6, AuthType.NONE),
    ):
        enc, rcv = _case(version, family, auth)
        rows.append(
            {
                "name": f"codec encode advert ({label})",
                "value": round(enc, 2),
                "unit": "us",
                "keepalived": None,
                "goal": "< 50 us",
            }
        )
        rows.append(
            {
                "name": f"codec decode+check advert ({label})",
                "value": round(rcv, 2),
                "unit": "us",
                "keepalived": None,
                "goal": "< 100 us",
            }
        )
    return rows


if __name__ == "__main__":
    for row in main():
        print(f"{row['name']:45} {row['value']:>8} {row['unit']}")
