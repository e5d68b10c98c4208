"""Fuzzing the decoder and the receive checks: nothing but PacketError may ever escape.

Four Hypothesis tests, 104,000 cases in all: random bytes through every parser, random bytes
through check_packet for several instance shapes, valid adverts with random byte damage, and
structurally valid datagrams with random header fields (to reach the deep checks).
"""

from __future__ import annotations

import random
from ipaddress import IPv4Address, IPv6Address

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vrrp_pkt import GROUP4, GROUP6, OWN4, SRC4, SRC6, VIP4, VIP6, Pkt, params, peer

from pykeepalived.vrrp.packet import PacketError, decode_advert, parse_ipv4_datagram
from pykeepalived.vrrp.params import AuthType, ChecksumMode
from pykeepalived.vrrp.receive import RxPacket, RxResult, RxState, check_packet, peek_vrid

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)

INSTANCES = [
    params(),
    params(auth_type=AuthType.PASS, auth_pass=b"pw"),
    params(auth_type=AuthType.AH, auth_pass=b"ahkey"),
    params(version=3, vips=(VIP4, IPv4Address("198.51.100.1"))),
    params(version=3, unicast_peers=(peer("192.0.2.2", 10, 200),), check_unicast_src=True),
    params(version=3, checksum_mode=ChecksumMode.AS_V2, base_priority=255, owner_ignore_adverts=True),
    params(skip_check_adv_addr=True),
    params(family=6, version=3, vips=(VIP6,)),
    params(family=6, version=3, vips=(VIP6,), unicast_peers=(peer("fe80::2"),), check_unicast_src=True),
]
VALID = [
    Pkt(),
    Pkt(auth_type=1, auth_data=b"pw"),
    Pkt(auth_type=2, ah=True, ah_key=b"ahkey"),
    Pkt(version=3, adver_int=100, addresses=(VIP4, IPv4Address("198.51.100.1"))),
    Pkt(version=3, adver_int=100, dst=OWN4, ttl=64),
    Pkt(version=3, adver_int=100, checksum_mode=ChecksumMode.AS_V2),
    Pkt(),
    Pkt(version=3, adver_int=100, addresses=(VIP6,), src=SRC6, dst=GROUP6),
    Pkt(version=3, adver_int=100, addresses=(VIP6,), src=SRC6, dst=IPv6Address("fe80::1")),
]
VALID_RX = [pkt.rx() for pkt in VALID]


def run_all(index: int, data: bytes, ttl: int, is_master: bool, src_pick: int) -> RxResult:
    p = INSTANCES[index]
    base = VALID_RX[index]
    src = (SRC4, OWN4, IPv4Address("203.0.113.9"))[src_pick] if p.family == 4 else SRC6
    rx = RxPacket(base.ifindex, base.family, src, base.dst, ttl, data)
    v = check_packet(
        p, RxState(), rx, own_src=OWN4, is_master=is_master, current_master=SRC4 if src_pick == 0 else None
    )
    assert all(isinstance(c, str) for c in v.counters)
    assert all(
        text.startswith("(VI_1) ") or "VRRP packet" in text or text.startswith("IPSEC") for _, text in v.logs
    )
    if v.result is RxResult.OK:
        assert v.advert is not None and "advert_rcvd" in v.counters
    return v.result


def parse_everything(data: bytes) -> None:
    for call in (
        lambda: decode_advert(data, 4),
        lambda: decode_advert(data, 6),
        lambda: parse_ipv4_datagram(data),
        lambda: peek_vrid(data, 4),
        lambda: peek_vrid(data, 6),
    ):
        try:
            call()
        except PacketError:
            pass


@settings(FUZZ, max_examples=30_000)
@given(st.binary(max_size=120))
def test_fuzz_parsers_random_bytes(data: bytes) -> None:
    parse_everything(data)


@settings(FUZZ, max_examples=20_000)
@given(
    st.integers(0, len(INSTANCES) - 1),
    st.binary(max_size=120),
    st.integers(-1, 255),
    st.booleans(),
    st.integers(0, 2),
)
def test_fuzz_check_packet_random_bytes(index: int, data: bytes, ttl: int, is_master: bool, src: int) -> None:
    run_all(index, data, ttl, is_master, src)


def damage(rng: random.Random, data: bytearray) -> bytes:
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(("flip", "set", "truncate", "extend", "insert"))
        pos = rng.randrange(max(len(data), 1))
        if op == "flip" and data:
            data[pos] ^= 1 << rng.randrange(8)
        elif op == "set" and data:
            data[pos] = rng.randrange(256)
        elif op == "truncate":
            del data[pos:]
        elif op == "extend":
            data += rng.randbytes(rng.randint(1, 20))
        else:
            data[pos:pos] = rng.randbytes(rng.randint(1, 4))
    return bytes(data)


# The mutation cases draw one seed per example and derive the mutation from it: Hypothesis's own
# per-draw overhead would otherwise dominate (each example is still exactly one fuzzed datagram).
SEED = st.integers(0, 2**64 - 1)


@settings(FUZZ, max_examples=30_000)
@given(st.integers(0, len(INSTANCES) - 1), SEED)
def test_fuzz_check_packet_damaged_adverts(index: int, seed: int) -> None:
    rng = random.Random(seed)
    data = damage(rng, bytearray(VALID_RX[index].data))
    parse_everything(data)
    run_all(index, data, rng.choice((255, 64, -1)), rng.random() < 0.5, rng.randrange(3))


@settings(FUZZ, max_examples=24_000)
@given(st.integers(0, len(INSTANCES) - 1), SEED)
def test_fuzz_check_packet_structured(index: int, seed: int) -> None:
    """Structurally valid datagrams with random header fields, to reach the deep checks."""
    rng = random.Random(seed)
    base = VALID[index]
    n = rng.randint(0, 3)
    filler = VIP6 if base.family6 else GROUP4
    fields: dict[str, object] = {
        "version": rng.choice((2, 3, rng.randrange(16))),
        "type": rng.choice((1, 1, rng.randrange(16))),
        "vrid": rng.randrange(256),
        "priority": rng.randrange(256),
        "adver_int": rng.choice((1, 100, rng.randrange(256))),
        "auth_type": rng.choice((0, 1, 2, rng.randrange(256))),
        "auth_data": rng.choice((b"pw", b"", rng.randbytes(8))),
        "ttl": rng.choice((255, 64, rng.randrange(256))),
        "csum_xor": rng.choice((0, 0, 1, 0x8000)),
        "extra": rng.choice((b"", b"", rng.randbytes(rng.randint(1, 6)))),
        "checksum_mode": rng.choice(list(ChecksumMode)),
        "addresses": base.addresses[:n] + (filler,) * max(0, n - len(base.addresses)),
    }
    if not base.family6:
        fields["ah"] = rng.random() < 0.3
        fields["ah_seq"] = rng.randrange(2**32)
        fields["ah_next_header"] = rng.choice((112, 112, 6))
        fields["tot_len_delta"] = rng.choice((0, 0, rng.randint(-60, 60)))
    pkt = base.replace(**fields)
    try:
        data = pkt.datagram()
    except (ValueError, OverflowError):
        return  # the test builder refused an impossible field combination (e.g. tot_len < 0)
    run_all(index, data, pkt.ttl, rng.random() < 0.5, 0)
