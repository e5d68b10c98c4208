"""keepalived 2.2.7's receive checks (vrrp.c:vrrp_check_packet), one by one and in order.

Every check has a mutation of an otherwise valid advert that fails exactly that check, with the
expected result, counters and log text. The order tests apply two mutations at once and require the
verdict of the earlier check: they fail if two checks are swapped or a counter moves.
"""

from __future__ import annotations

import itertools
import re
from ipaddress import IPv4Address, IPv6Address

import pytest
from vrrp_pkt import GROUP4, GROUP6, OWN4, SRC4, SRC6, VIP4, VIP6, Pkt, params, peer

from pykeepalived.vrrp.params import AuthType, ChecksumMode, InstanceParams
from pykeepalived.vrrp.receive import (
    RxPacket,
    RxResult,
    RxState,
    RxVerdict,
    check_packet,
    next_ah_seq,
    peek_vrid,
    reset_ah_on_master,
    tx_checksum_mode,
)

KO, DROP, OK = RxResult.KO, RxResult.DROP, RxResult.OK
OTHER4 = IPv4Address("192.0.2.200")


def check(
    p: InstanceParams,
    pkt: Pkt | RxPacket,
    *,
    state: RxState | None = None,
    is_master: bool = False,
    current_master: object = None,
    effective_priority: int | None = None,
) -> RxVerdict:
    rx = pkt.rx() if isinstance(pkt, Pkt) else pkt
    return check_packet(
        p,
        state or RxState(),
        rx,
        own_src=OWN4 if p.family == 4 else SRC6,
        is_master=is_master,
        current_master=current_master,
        effective_priority=effective_priority,  # type: ignore[arg-type]
    )


def signature(v: RxVerdict) -> tuple[RxResult, tuple[str, ...], tuple[str, ...]]:
    return v.result, v.counters, tuple(text for _, text in v.logs)


def shape(sig: tuple[RxResult, tuple[str, ...], tuple[str, ...]]) -> object:
    """The signature with numbers blanked: a second mutation may change the lengths logged."""
    return sig[0], sig[1], tuple(re.sub(r"\d+", "N", t) for t in sig[2])


# --- chain A: VRRPv2, no authentication, multicast --------------------------------------------------
P_A = params()
BASE_A = Pkt()

# (name, mutation, result, counters, log) in keepalived's order
CHAIN_A: list[tuple[str, dict[str, object], RxResult, tuple[str, ...], str | None]] = [
    (
        "ah_present",
        {"ah": True},
        KO,
        ("authtype_mismatch",),
        "(VI_1) Received AH header but auth type not AH",
    ),
    (
        "too_long",
        {"extra": b"\0" * 4},
        KO,
        ("packet_len_err",),
        "(VI_1) vrrp packet too long, length 44 and expect 40",
    ),
    ("ttl", {"ttl": 254}, KO, ("ip_ttl_err",), "(VI_1) invalid TTL/HL. Received 254 and expect 255"),
    (
        "version",
        {"version": 3, "adver_int": 100},
        KO,
        ("vers_err",),
        "(VI_1) wrong version. Received 3 and expect 2",
    ),
    ("auth_invalid", {"auth_type": 7}, KO, ("invalid_authtype",), "(VI_1) Invalid auth type: 7"),
    ("auth_other", {"auth_type": 1}, KO, ("authtype_mismatch",), "(VI_1) received a 1 auth, expecting 0!"),
    ("interval", {"adver_int": 3}, DROP, (), "(VI_1) advertisement interval mismatch mine=1 sec rcv'd=3 sec"),
    ("type", {"type": 2}, KO, ("invalid_type_rcvd",), "(VI_1) Invalid packet type. 2 and expect 1"),
    (
        "addr_count",
        {"addresses": (VIP4, OTHER4)},
        KO,
        ("addr_list_err",),
        "(VI_1) received an unexpected ip number count 2, expected 1!",
    ),
    (
        "tot_len",
        {"tot_len_delta": 4},
        KO,
        ("packet_len_err",),
        "(VI_1) ip_tot_len mismatch against received length. 44 and received 40",
    ),
    ("checksum", {"csum_xor": 0x0101}, KO, ("chk_err",), "(VI_1) Invalid VRRPv2 checksum"),
    (
        "unicast_dst",
        {"dst": OWN4},
        KO,
        ("addr_list_err",),
        "(VI_1) Expected multicast packet but received unicast packet",
    ),
    (
        "vip_missing",
        {"addresses": (OTHER4,)},
        KO,
        ("advert_rcvd", "addr_list_err"),
        "(VI_1) ip address associated with VRID 51 not present in MASTER advert: 192.0.2.100",
    ),
]


def test_valid_advert_is_ok() -> None:
    v = check(P_A, BASE_A)
    assert signature(v) == (OK, ("advert_rcvd",), ())
    assert v.advert is not None and v.advert.priority == 150 and v.advert.addresses == (VIP4,)


def test_priority_zero_is_counted() -> None:
    assert check(P_A, BASE_A.replace(priority=0)).counters == ("advert_rcvd", "pri_zero_rcvd")


@pytest.mark.parametrize(("name", "mut", "result", "counters", "log"), CHAIN_A, ids=[c[0] for c in CHAIN_A])
def test_chain_a_single_check(
    name: str, mut: dict[str, object], result: RxResult, counters: tuple[str, ...], log: str | None
) -> None:
    v = check(P_A, BASE_A.replace(**mut))
    assert signature(v) == (result, counters, (log,) if log else ())


PAIRS_A = [
    (i, j)
    for i, j in itertools.combinations(range(len(CHAIN_A)), 2)
    if not ("addresses" in CHAIN_A[i][1] and "addresses" in CHAIN_A[j][1])  # one field, two mutations
]


@pytest.mark.parametrize(
    ("first", "second"), PAIRS_A, ids=[f"{CHAIN_A[i][0]}+{CHAIN_A[j][0]}" for i, j in PAIRS_A]
)
def test_chain_a_order(first: int, second: int) -> None:
    _, mut1, result, counters, log = CHAIN_A[first]
    v = check(P_A, BASE_A.replace(**{**CHAIN_A[second][1], **mut1}))
    assert shape(signature(v)) == shape((result, counters, (log,) if log else ()))


def test_short_packet_is_a_length_error_not_a_decode_crash() -> None:
    rx = BASE_A.rx()
    data = rx.data[:-4]
    data = data[:2] + len(data).to_bytes(2, "big") + data[4:]
    v = check(P_A, RxPacket(2, 4, SRC4, GROUP4, 255, data))
    assert signature(v) == (
        KO,
        ("packet_len_err",),
        ("(VI_1) vrrp packet too short, length 36 and expect 40",),
    )


def test_header_too_short_is_dropped_with_keepalived_message() -> None:
    v = check(P_A, RxPacket(2, 4, SRC4, GROUP4, 255, BASE_A.datagram()[:27]))
    assert signature(v) == (DROP, (), ("IPv4 VRRP packet too short - 27 bytes",))
    p6 = params(family=6, version=3, vips=(VIP6,))
    v = check(p6, RxPacket(2, 6, SRC6, GROUP6, 255, b"\x31\x33"))
    assert signature(v) == (DROP, (), ("IPv6 VRRP packet too short - 2 bytes",))


def test_backup_with_skip_check_adv_addr_skips_the_address_checks_for_the_current_master() -> None:
    p = params(skip_check_adv_addr=True)
    pkt = BASE_A.replace(addresses=(OTHER4, VIP4))
    assert check(p, pkt, current_master=SRC4).result is OK
    assert check(p, pkt, current_master=OTHER4).counters == ("addr_list_err",)  # another master: checked
    assert check(p, pkt, current_master=SRC4, is_master=True).counters == ("addr_list_err",)  # MASTER: always


# --- chain B: VRRPv2 PASS ----------------------------------------------------------------------------
P_B = params(auth_type=AuthType.PASS, auth_pass=b"pw")
BASE_B = Pkt(auth_type=1, auth_data=b"pw")
CHAIN_B = [
    (
        "ah_present",
        {"ah": True},
        KO,
        ("authtype_mismatch",),
        "(VI_1) Received AH header but auth type not AH",
    ),
    ("ttl", {"ttl": 1}, KO, ("ip_ttl_err",), "(VI_1) invalid TTL/HL. Received 1 and expect 255"),
    ("auth_none", {"auth_type": 0}, KO, ("authtype_mismatch",), "(VI_1) received a 0 auth, expecting 1!"),
    ("password", {"auth_data": b"pW"}, KO, ("auth_failure",), "(VI_1) received an invalid passwd!"),
    ("interval", {"adver_int": 2}, DROP, (), "(VI_1) advertisement interval mismatch mine=1 sec rcv'd=2 sec"),
    ("type", {"type": 3}, KO, ("invalid_type_rcvd",), "(VI_1) Invalid packet type. 3 and expect 1"),
    ("checksum", {"csum_xor": 1}, KO, ("chk_err",), "(VI_1) Invalid VRRPv2 checksum"),
]


def test_pass_valid() -> None:
    assert check(P_B, BASE_B).result is OK


@pytest.mark.parametrize(("first", "second"), list(itertools.combinations(range(len(CHAIN_B)), 2)))
def test_chain_b_order(first: int, second: int) -> None:
    _, mut1, result, counters, log = CHAIN_B[first]
    assert signature(check(P_B, BASE_B.replace(**mut1))) == (result, counters, (log,))
    v = check(P_B, BASE_B.replace(**{**CHAIN_B[second][1], **mut1}))
    assert shape(signature(v)) == shape((result, counters, (log,)))


def test_pass_password_is_located_from_ip_tot_len_as_in_keepalived_2_2_7() -> None:
    # a wrong tot_len moves the password window: 2.2.7 reports an auth failure before the length
    v = check(P_B, BASE_B.replace(tot_len_delta=-4))
    assert signature(v) == (KO, ("auth_failure",), ("(VI_1) received an invalid passwd!",))


# --- chain C: VRRPv2 IPSEC-AH ----------------------------------------------------------------------
P_C = params(auth_type=AuthType.AH, auth_pass=b"ahkey")
BASE_C = Pkt(auth_type=2, ah=True, ah_key=b"ahkey", ah_seq=5)


def test_ah_valid_then_replay_then_newer() -> None:
    state = RxState()
    assert check(P_C, BASE_C, state=state).result is OK
    assert state.ah_seq_number == 5
    v = check(P_C, BASE_C, state=state)
    assert signature(v) == (
        KO,
        ("auth_failure",),
        ("(VI_1) IPSEC-AH : sequence number 5 already processed. Packet dropped. Local(5)",),
    )
    assert check(P_C, BASE_C.replace(ah_seq=6), state=state).result is OK


def test_ah_checks() -> None:
    assert signature(check(P_C, BASE_C.replace(ah=False))) == (
        KO,
        ("authtype_mismatch",),
        ("(VI_1) No AH header but auth type is AH",),
    )
    assert signature(check(P_C, BASE_C.replace(ah_key=b"other"))) == (
        KO,
        ("auth_failure",),
        ("(VI_1) IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !",),
    )
    v = check(P_C, BASE_C.replace(ah_spi=0xC0000203))
    assert signature(v) == (
        KO,
        ("auth_failure",),
        ("IPSEC AH : invalid IPSEC SPI value. 33685696 and expect 50462912",),
    )
    assert signature(check(P_C, BASE_C.replace(ah_next_header=6))) == (DROP, (), ())
    # the ICV covers the IP header: a changed identification (not a mutable field) breaks it
    rx = BASE_C.rx()
    data = bytearray(rx.data)
    data[5] ^= 1
    assert check(P_C, RxPacket(2, 4, SRC4, GROUP4, 255, bytes(data))).counters == ("auth_failure",)
    # ... while TOS is mutable (zeroed in the ICV); only the IP header checksum would notice
    data = bytearray(rx.data)
    data[1] = 0
    assert check(P_C, RxPacket(2, 4, SRC4, GROUP4, 255, bytes(data))).result is OK


def test_ah_failure_comes_before_interval_and_type() -> None:
    bad = BASE_C.replace(ah_key=b"other", adver_int=9, type=2, csum_xor=1)
    assert check(P_C, bad).counters == ("auth_failure",)


def test_ah_sequence_counter_is_shared_with_sending() -> None:
    state = RxState()
    assert [next_ah_seq(state) for _ in range(3)] == [1, 2, 3]
    assert check(P_C, BASE_C.replace(ah_seq=3), state=state).counters == ("auth_failure",)
    state.ah_seq_number = 0xFFFFFFFE
    assert next_ah_seq(state) == 0xFFFFFFFE and state.ah_cycle
    reset_ah_on_master(state)
    assert (state.ah_seq_number, state.ah_cycle) == (0, False)


def test_ah_backup_clears_cycle_on_valid_advert() -> None:
    state = RxState(ah_seq_number=4, ah_cycle=True)
    assert check(P_C, BASE_C, state=state, is_master=True).result is OK and state.ah_cycle
    state = RxState(ah_seq_number=4, ah_cycle=True)
    assert check(P_C, BASE_C, state=state).result is OK and not state.ah_cycle


def test_unicast_ah_zeroes_ttl_in_icv() -> None:
    p = params(auth_type=AuthType.AH, auth_pass=b"ahkey", unicast_peers=(peer("192.0.2.2"),))
    pkt = BASE_C.replace(dst=OWN4, unicast_icv=True, ttl=64)
    assert check(p, pkt).result is OK
    assert check(p, pkt.replace(unicast_icv=False)).counters == ("auth_failure",)


# --- chain D: VRRPv3 unicast IPv4 ----------------------------------------------------------------------
P_D = params(version=3, unicast_peers=(peer("192.0.2.2", 60, 70),), check_unicast_src=True)
BASE_D = Pkt(version=3, adver_int=100, dst=OWN4, ttl=64)


def test_unicast_ignores_ttl_255_rule_and_checks_peer_range() -> None:
    assert check(P_D, BASE_D).result is OK
    assert signature(check(P_D, BASE_D.replace(ttl=255))) == (
        KO,
        ("advert_rcvd", "ip_ttl_err"),
        ("(VI_1) TTL/HL 255 not in range 60 - 70",),
    )


def test_unicast_source_must_be_a_peer() -> None:
    v = check(P_D, BASE_D.replace(src=OTHER4))
    assert signature(v) == (
        KO,
        ("advert_rcvd",),
        ("(VI_1) unicast source address 192.0.2.200 not a unicast peer",),
    )


def test_unicast_multicast_destination() -> None:
    v = check(P_D, BASE_D.replace(dst=GROUP4, ttl=64))
    assert signature(v) == (
        KO,
        ("addr_list_err",),
        ("(VI_1) Expected unicast packet but received multicast packet",),
    )


def test_v3_interval_mismatch_is_accepted_without_log_in_2_2_7() -> None:
    assert signature(check(P_D, BASE_D.replace(adver_int=250))) == (OK, ("advert_rcvd",), ())


def test_v3_checksum_modes() -> None:
    bad = check(P_D, BASE_D.replace(checksum_mode=ChecksumMode.AS_V2))
    assert signature(bad) == (KO, ("chk_err",), ("(VI_1) Invalid VRRPv3 checksum",))
    as_v2 = params(version=3, unicast_peers=(peer("192.0.2.2"),), checksum_mode=ChecksumMode.AS_V2)
    assert check(as_v2, BASE_D.replace(checksum_mode=ChecksumMode.AS_V2)).result is OK
    # v3_checksum_as_v2 also accepts the RFC 5798 pseudo-header form (mixed clusters during migration)
    assert check(as_v2, BASE_D).result is OK
    # ... but not a checksum that matches neither form
    corrupt = check(as_v2, BASE_D.replace(checksum_mode=ChecksumMode.OLD_UNICAST))
    assert corrupt.counters == ("chk_err",)


def test_old_unicast_checksum_auto_detection() -> None:
    state = RxState()
    old = BASE_D.replace(checksum_mode=ChecksumMode.OLD_UNICAST)
    v = check(P_D, old, state=state)
    assert signature(v) == (OK, ("advert_rcvd",), ("(VI_1) Setting unicast VRRPv3 checksum to old version",))
    assert state.old_unicast_checksum and tx_checksum_mode(P_D, state) is ChecksumMode.OLD_UNICAST
    assert check(P_D, old, state=state).logs == ()  # now the expected scheme
    never = params(version=3, unicast_peers=(peer("192.0.2.2"),), old_unicast_checksum_auto=False)
    assert check(never, old).counters == ("chk_err",)
    multicast = params(version=3)
    assert check(multicast, Pkt(version=3, adver_int=100, csum_xor=4)).counters == ("chk_err",)
    configured = params(version=3, unicast_peers=(peer("192.0.2.2"),), checksum_mode=ChecksumMode.OLD_UNICAST)
    assert check(configured, old).result is OK and check(configured, BASE_D).counters == ("chk_err",)


def test_chain_d_order_checksum_before_destination_before_peer() -> None:
    v = check(P_D, BASE_D.replace(csum_xor=1, dst=GROUP4, src=OTHER4))
    assert v.counters == ("chk_err",)
    v = check(P_D, BASE_D.replace(dst=GROUP4, src=OTHER4))
    assert v.counters == ("addr_list_err",)
    v = check(P_D, BASE_D.replace(src=OTHER4, addresses=(OTHER4,)))
    assert v.logs[0][1].startswith("(VI_1) ip address associated with VRID 51 not present")


# --- owner_ignore_adverts (current keepalived), after the destination check, before advert_rcvd ----
def test_owner_ignore_adverts() -> None:
    p = params(base_priority=255, owner_ignore_adverts=True)
    assert signature(check(p, BASE_A)) == (
        DROP,
        (),
        ("(VI_1) Dropping packet(s) from 192.0.2.2 since we are address owner",),
    )
    assert check(p, BASE_A, effective_priority=254).result is OK
    assert check(p, BASE_A.replace(dst=OWN4)).counters == ("addr_list_err",)
    assert check(params(base_priority=255), BASE_A).result is OK


# --- IPv6 (VRRPv3; the kernel checked the checksum and hands us the PDU) -----------------------------
P_6 = params(family=6, version=3, vips=(VIP6,))
BASE_6 = Pkt(version=3, adver_int=100, addresses=(VIP6,), src=SRC6, dst=GROUP6)


def test_ipv6_checks() -> None:
    assert check(P_6, BASE_6).result is OK
    assert check(P_6, BASE_6.rx(hop_limit=-1)).result is OK  # no IPV6_HOPLIMIT: not checked
    assert signature(check(P_6, BASE_6.rx(hop_limit=64))) == (
        KO,
        ("ip_ttl_err",),
        ("(VI_1) invalid TTL/HL. Received 64 and expect 255",),
    )
    assert check(P_6, BASE_6.replace(version=2, adver_int=1)).counters == ("vers_err",)
    assert check(P_6, BASE_6.replace(type=0)).counters == ("invalid_type_rcvd",)
    assert check(P_6, BASE_6.replace(csum_xor=0xFFFF)).result is OK  # not ours to verify
    # a unicast packet on a multicast IPv6 instance is discarded by the dispatcher, silently
    assert signature(check(P_6, BASE_6.replace(dst=IPv6Address("2001:db8::1")))) == (DROP, (), ())
    assert check(P_6, BASE_6.replace(extra=b"\0" * 16)).counters == ("packet_len_err",)


def test_peek_vrid() -> None:
    assert peek_vrid(BASE_A.datagram(), 4) == 51
    assert peek_vrid(BASE_C.datagram(), 4) == 51
    assert peek_vrid(BASE_6.datagram(), 6) == 51
