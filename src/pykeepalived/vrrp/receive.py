# Theory of operation
# -------------------
# keepalived's receive validation (keepalived 2.2.7 vrrp.c:vrrp_check_packet, keepalived.md §5.5) as
# one pure function. Given the instance's parameters, its small mutable receive state and one
# received datagram, `check_packet` says OK / KO / DROP, which stats counters to bump and which log
# lines to emit; the state machine applies the verdict: counters and logs always, the advert itself
# only when OK. (keepalived 2.2.7 also re-arms the instance's timer after a KO or DROP, so junk can
# keep a MASTER from advertising; pykeepalived does not: docs/vrrp.md "Junk".) The checks run in
# keepalived's order, because the order decides which counter a packet with several faults lands in:
#
#   (dispatcher) IPv6 multicast-ness vs instance mode, minimal header length ("IPv4 VRRP packet too
#      short - N bytes"; the engine logs it for a datagram too short to carry a VRID, every time)
#    1 IPv4: AH header present iff auth_type AH        authtype_mismatch   KO
#    2 total length == headers + addresses (+auth)     packet_len_err      KO
#    3 multicast: TTL / hop limit == 255               ip_ttl_err          KO
#    4 version == ours                                 vers_err            KO
#    6 v2: auth type valid, equal, PASS / AH (ICV, SPI, anti-replay)       KO
#    7 v2: advert interval == ours                     (log only)          DROP
#    8 type == ADVERTISEMENT                           invalid_type_rcvd   KO
#      (2.2.7) address count == ours when checking addresses  addr_list_err KO
#    9 IPv4: ip tot_len == received length             packet_len_err      KO
#   11 IPv4: VRRP checksum (v3 pseudo-header modes, old-unicast auto-detection)  chk_err  KO
#   12 multicast destination iff multicast instance    addr_list_err       KO
#   13 owner_ignore_adverts and we are the owner       (log only)          DROP
#      -> advert_rcvd
#   15 every VIP present (when checking addresses)     addr_list_err       KO
#   16 unicast source is a peer, TTL within its range  (none) / ip_ttl_err KO
#      -> pri_zero_rcvd for priority 0                                     OK
#
# Numbers follow the table in keepalived.md §5.5. That table was written from keepalived's current
# source; keepalived 2.2.7 — the version we are a drop-in for — differs and wins here: its log texts
# carry no "from ADDR", it has no Ethernet-padding allowance, no v3 interval-mismatch log (10), a
# wrong address count or a missing VIP is KO (not log-only), and the unicast-source check only runs
# when addresses are checked. owner_ignore_adverts (13) and v3_checksum_as_v2 do not exist in 2.2.7;
# they are applied only when configured, at the place current keepalived applies them.
#
# Through a real kernel checks 1, 9 and 12 never fire (one receive socket per IP protocol, the kernel
# validates tot_len, sockets are bound to the group / unicast address); they matter for the simulator
# and are kept for fidelity. tests/vrrp/test_receive_keepalived.py checks every other log text against
# a running keepalived 2.2.7.
"""Receive validation of VRRP adverts in keepalived's order."""

from __future__ import annotations

import enum
import hmac
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

from pykeepalived.vrrp.packet import (
    AH_HEADER_LEN,
    AH_PROTO,
    HMAC_MD5_TRUNC,
    VRRP_AUTH_LEN,
    VRRP_HEADER_LEN,
    VRRP_MCAST_GROUP4,
    VRRP_PROTO,
    VRRP_TTL,
    VRRP_TYPE_ADVERTISEMENT,
    Advertisement,
    DropReason,
    Ipv4Datagram,
    PacketError,
    RxPacket,
    ah_icv,
    decode_advert,
    internet_checksum,
    ipv4_pseudo_header,
    parse_ipv4_datagram,
    pdu_length,
)
from pykeepalived.vrrp.params import AuthType, ChecksumMode, InstanceParams, IPAddress

_SEC = 1_000_000


class RxResult(enum.Enum):
    OK = "ok"  # process it (vrrp_state_backup / vrrp_state_master_rx)
    KO = "ko"  # invalid: counted, logged, ignored
    DROP = "drop"  # not for us: ignored


@dataclass(slots=True)
class RxState:
    """Per-instance receive state that outlives one packet.

    `ah_seq_number` / `ah_cycle` are keepalived's single per-instance IPSEC-AH counter
    (vrrp->ipsecah_counter): the same number the instance increments for every advert it sends
    (see `next_ah_seq`) and that received AH sequence numbers must exceed (anti-replay).
    """

    ah_seq_number: int = 0
    ah_cycle: bool = False
    old_unicast_checksum: bool = False  # switched on by auto-detection (§5.10)


@dataclass(frozen=True, slots=True)
class RxVerdict:
    """The outcome of `check_packet`.

    `logs` holds (rate-limit key, full log text incl. the "(VI_1) " prefix). keepalived 2.2.7 logs
    every occurrence (rate limiting came in later versions); the keys name current keepalived's
    rate-limit flags for a state machine that wants to limit. The key "" marks lines that are never
    rate limited.
    """

    result: RxResult
    advert: Advertisement | None
    counters: tuple[str, ...] = ()  # keepalived stats names to increment, e.g. ("advert_rcvd",)
    logs: tuple[tuple[str, str], ...] = ()


def next_ah_seq(state: RxState) -> int:
    """Sequence number for the next AH advert sent (keepalived: vrrp.c:vrrp_update_pkt).

    At 0xFFFFFFFE the counter stops and `ah_cycle` is set; becoming MASTER with `ah_cycle` set resets
    it (see `reset_ah_on_master`).
    """
    if state.ah_seq_number > 0xFFFFFFFD:
        state.ah_cycle = True
    else:
        state.ah_seq_number += 1
    return state.ah_seq_number


def reset_ah_on_master(state: RxState) -> None:
    """keepalived: vrrp.c:vrrp_state_become_master resets the anti-replay counter after a cycle."""
    if state.ah_cycle:
        state.ah_cycle = False
        state.ah_seq_number = 0


def tx_checksum_mode(params: InstanceParams, state: RxState) -> ChecksumMode:
    """The checksum mode for sending, once auto-detection may have switched to the old scheme."""
    if state.old_unicast_checksum and params.checksum_mode is ChecksumMode.PSEUDO_HEADER:
        return ChecksumMode.OLD_UNICAST
    return params.checksum_mode


def peek_vrid(data: bytes, family: int) -> int:
    """VRID of a received datagram for demultiplexing (keepalived: vrrp_get_header); PacketError only."""
    if family == 4:
        return parse_ipv4_datagram(data).pdu[1]
    if len(data) < VRRP_HEADER_LEN:
        raise _too_short6(len(data))
    return data[1]


def _too_short6(n: int) -> PacketError:
    return PacketError(DropReason.TOO_SHORT, f"IPv6 VRRP packet too short - {n} bytes")


def _le32(addr: IPv4Address) -> int:
    # keepalived prints network-order 32-bit values with %u on a little-endian host
    return int.from_bytes(addr.packed, "little")


class _Check:
    """Accumulates the verdict while the checks run (keeps check_packet linear and readable)."""

    __slots__ = ("advert", "counters", "logs", "prefix")

    def __init__(self, iname: str) -> None:
        self.prefix = f"({iname}) "
        self.counters: list[str] = []
        self.logs: list[tuple[str, str]] = []
        self.advert: Advertisement | None = None

    def log(self, key: str, text: str, *, prefix: bool = True) -> None:
        self.logs.append((key, self.prefix + text if prefix else text))

    def done(self, result: RxResult, *counters: str) -> RxVerdict:
        self.counters.extend(counters)
        return RxVerdict(result, self.advert, tuple(self.counters), tuple(self.logs))


def check_packet(
    params: InstanceParams,
    state: RxState,
    rx: RxPacket,
    *,
    own_src: IPAddress,
    is_master: bool,
    current_master: IPAddress | None,
    effective_priority: int | None = None,
) -> RxVerdict:
    """Validate one received datagram for the instance `params` (keepalived: vrrp_check_packet).

    `is_master` selects MASTER (addresses always checked) or BACKUP processing; `current_master` is
    the address the backup last accepted adverts from (`skip_check_adv_addr` skips the address list
    check for it). `effective_priority` defaults to the base priority (owner_ignore_adverts).
    `own_src` is accepted for the state machine's convenience and not needed by the checks.
    """
    del own_src
    c = _Check(params.name)
    unicast = params.is_unicast
    family = params.family

    # --- dispatcher (vrrp_scheduler.c:vrrp_dispatcher_read) -------------------------------------
    if family == 6 and rx.dst.is_multicast == unicast:
        return c.done(RxResult.DROP)  # logged only with detailed debug in keepalived
    data = rx.data
    buflen = len(data)
    ip = None
    try:
        if family == 4:
            ip = parse_ipv4_datagram(data)
            hd_off = ip.vrrp_offset
        else:
            if buflen < VRRP_HEADER_LEN:
                raise _too_short6(buflen)
            hd_off = 0
    except PacketError as exc:
        if exc.reason is DropReason.TOO_SHORT:  # vrrp_get_header's message; the kernel drops the rest
            c.log("", exc.detail, prefix=False)
        return c.done(RxResult.DROP)
    vers_type, _vrid, priority, naddr, b4, b5 = struct.unpack_from("!6B", data, hd_off)
    version = vers_type >> 4

    # --- 1: AH header iff auth type AH ------------------------------------------------------------
    auth_type = params.auth_type if params.version == 2 and family == 4 else AuthType.NONE
    expected_len = 0
    if ip is not None:
        has_ah = ip.protocol == AH_PROTO
        if has_ah != (auth_type is AuthType.AH):
            if has_ah:
                c.log("bad_ah_header", "Received AH header but auth type not AH")
            else:
                c.log("bad_ah_header", "No AH header but auth type is AH")
            return c.done(RxResult.KO, "authtype_mismatch")
        expected_len = ip.ihl + (AH_HEADER_LEN if has_ah else 0)

    # --- 2: complete VRRP packet ----------------------------------------------------------------
    expected_len += pdu_length(version, naddr, family)
    if buflen != expected_len:
        c.log(
            "incomplete_packet",
            f"vrrp packet too {'long' if buflen > expected_len else 'short'}, "
            f"length {buflen} and expect {expected_len}",
        )
        return c.done(RxResult.KO, "packet_len_err")
    c.advert = decode_advert(data[hd_off:], family)

    # --- 3: TTL / hop limit 255 (multicast only) ------------------------------------------------
    ttl = ip.ttl if ip is not None else rx.ttl
    if not unicast and ttl != -1 and ttl != VRRP_TTL:
        c.log("invalid_ttl", f"invalid TTL/HL. Received {ttl} and expect {VRRP_TTL}")
        return c.done(RxResult.KO, "ip_ttl_err")

    # --- 4: version -------------------------------------------------------------------------------
    if version != params.version:
        c.log("wrong_version", f"wrong version. Received {version} and expect {params.version}")
        return c.done(RxResult.KO, "vers_err")

    # --- 6, 7: v2 authentication and interval -----------------------------------------------------
    if params.version == 2:
        verdict = _check_v2(c, params, state, data, ip, auth_type, b4, b5, is_master)
        if verdict is not None:
            return verdict

    # --- 8: type -------------------------------------------------------------------------------------
    if vers_type & 0x0F != VRRP_TYPE_ADVERTISEMENT:
        c.log(
            "not_advertisement",
            f"Invalid packet type. {vers_type & 0x0F} and expect {VRRP_TYPE_ADVERTISEMENT}",
        )
        return c.done(RxResult.KO, "invalid_type_rcvd")

    check_vip_addr = (
        is_master or not params.skip_check_adv_addr or current_master is None or rx.src != current_master
    )
    vip_cnt = len(params.vips)
    if check_vip_addr and naddr != vip_cnt:
        c.log("wrong_addr_count", f"received an unexpected ip number count {naddr}, expected {vip_cnt}!")
        return c.done(RxResult.KO, "addr_list_err")

    # --- 9: IP total length -------------------------------------------------------------------------
    if ip is not None and ip.tot_len != buflen:
        c.log(
            "bad_length", f"ip_tot_len mismatch against received length. {ip.tot_len} and received {buflen}"
        )
        return c.done(RxResult.KO, "packet_len_err")

    # --- 11: checksum (IPv4; the kernel verifies IPv6) ------------------------------------------
    if ip is not None:
        verdict = _check_checksum(c, params, state, data, hd_off, naddr, version, ip.src, ip.dst)
        if verdict is not None:
            return verdict

    # --- 12: multicast destination iff multicast instance ---------------------------------------
    multicast_pkt = ip.dst.is_multicast if ip is not None else rx.dst.is_multicast
    if multicast_pkt == unicast:
        mine, got = ("un", "mult") if unicast else ("mult", "un")
        c.log("uni_multicast_err", f"Expected {mine}icast packet but received {got}icast packet")
        return c.done(RxResult.KO, "addr_list_err")

    # --- 13: owner_ignore_adverts (current keepalived only) --------------------------------------
    prio = params.base_priority if effective_priority is None else effective_priority
    if params.owner_ignore_adverts and prio == 255:
        c.log("owner_ignore_adver", f"Dropping packet(s) from {rx.src} since we are address owner")
        return c.done(RxResult.DROP)

    c.counters.append("advert_rcvd")

    if check_vip_addr:
        verdict = _check_addresses(c, params, ip.src if ip is not None else rx.src, ttl)
        if verdict is not None:
            return verdict

    if priority == 0:
        c.counters.append("pri_zero_rcvd")
    return c.done(RxResult.OK)


def _check_v2(c: _Check, params: InstanceParams, state: RxState, data: bytes, ip: Ipv4Datagram | None,
              auth_type: AuthType, b4: int, b5: int, is_master: bool) -> RxVerdict | None:
    """Checks 6 and 7 (VRRPv2): the authentication type and data, and the advertisement interval;
    None when they pass."""
    if b4 not in (AuthType.NONE, AuthType.PASS, AuthType.AH):
        c.log("bad_auth", f"Invalid auth type: {b4}")
        return c.done(RxResult.KO, "invalid_authtype")
    if b4 != auth_type:
        c.log("wrong_auth", f"received a {b4} auth, expecting {int(auth_type)}!")
        return c.done(RxResult.KO, "authtype_mismatch")
    if auth_type is AuthType.PASS and ip is not None:
        verdict = _check_pass(c, params, data, ip.tot_len)
        if verdict is not None:
            return verdict
    elif auth_type is AuthType.AH and ip is not None and ip.ah is not None:
        if ip.ah.next_header != VRRP_PROTO:
            return c.done(RxResult.DROP)  # AH for some other protocol
        verdict = _check_ah(
            c, params, state, data, ip.ihl, ip.src, ip.ah.spi, ip.ah.seq_number, ip.ah.icv
        )
        if verdict is not None:
            return verdict
        if not is_master and ip.ah.seq_number >= state.ah_seq_number:
            state.ah_cycle = False
    if params.adver_int_us != b5 * _SEC:
        c.log(
            "adv_intvl_mismatch",
            f"advertisement interval mismatch mine={params.adver_int_us // _SEC} sec rcv'd={b5} sec",
        )
        return c.done(RxResult.DROP)  # keepalived: "to prevent concurrent VRID running"
    return None


def _check_addresses(c: _Check, params: InstanceParams, src: IPAddress, ttl: int) -> RxVerdict | None:
    """Checks 14 to 16: the advert's address list, the unicast source and its TTL range; None when
    they pass."""
    # --- 14, 15: the address list --------------------------------------------------------------
    assert c.advert is not None  # decoded at check 2
    received = set(c.advert.addresses)
    for vip in params.vips:
        if vip not in received:
            c.log(
                "vips_mismatch",
                f"ip address associated with VRID {params.vrid} not present in MASTER advert: {vip}",
            )
            return c.done(RxResult.KO, "addr_list_err")
    # --- 16: unicast source and TTL range --------------------------------------------------
    peers = params.unicast_peers
    if params.is_unicast and (
        params.check_unicast_src or any(p.min_ttl is not None or p.max_ttl is not None for p in peers)
    ):
        peer = next((p for p in peers if p.address == src), None)
        if peer is None:
            c.log("unicast_src", f"unicast source address {src} not a unicast peer")
            return c.done(RxResult.KO)
        lo = 0 if peer.min_ttl is None else peer.min_ttl
        hi = 255 if peer.max_ttl is None else peer.max_ttl
        if ttl != -1 and not lo <= ttl <= hi:
            c.log("ttl_range", f"TTL/HL {ttl} not in range {lo} - {hi}")
            return c.done(RxResult.KO, "ip_ttl_err")
    return None


def _check_pass(c: _Check, params: InstanceParams, data: bytes, tot_len: int) -> RxVerdict | None:
    # keepalived 2.2.7 locates the password from ip->tot_len, which is only validated later (check 9);
    # a tot_len pointing outside the datagram reads foreign memory there: we count that as a mismatch.
    got = data[tot_len - VRRP_AUTH_LEN : tot_len] if VRRP_AUTH_LEN <= tot_len <= len(data) else b""
    want = params.auth_pass.ljust(VRRP_AUTH_LEN, b"\0")[:VRRP_AUTH_LEN]
    if len(got) != VRRP_AUTH_LEN or not hmac.compare_digest(got, want):
        c.log("wrong_auth_passwd", "received an invalid passwd!")
        return c.done(RxResult.KO, "auth_failure")
    return None


def _check_ah(
    c: _Check,
    params: InstanceParams,
    state: RxState,
    data: bytes,
    ihl: int,
    src: IPv4Address,
    spi: int,
    seq: int,
    icv: bytes,
) -> RxVerdict | None:
    """keepalived: vrrp.c:vrrp_in_chk_ipsecah (RFC 2402 §3.4: ICV, then SPI, then anti-replay)."""
    want = ah_icv(data[:ihl], data[ihl:], params.auth_pass, unicast=params.is_unicast)
    if not hmac.compare_digest(icv, want[:HMAC_MD5_TRUNC]):
        c.log("", "IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !")
        return c.done(RxResult.KO, "auth_failure")
    if spi != int(src):
        c.log(
            "",
            f"IPSEC AH : invalid IPSEC SPI value. {_le32(src)} and expect {_le32(IPv4Address(spi))}",
            prefix=False,
        )
        return c.done(RxResult.KO, "auth_failure")
    if seq > state.ah_seq_number:
        state.ah_seq_number = seq
        return None
    c.log(
        "",
        f"IPSEC-AH : sequence number {seq} already processed. Packet dropped. Local({state.ah_seq_number})",
    )
    return c.done(RxResult.KO, "auth_failure")


def _check_checksum(
    c: _Check,
    params: InstanceParams,
    state: RxState,
    data: bytes,
    hd_off: int,
    naddr: int,
    version: int,
    src: IPv4Address,
    dst: IPv4Address,
) -> RxVerdict | None:
    """keepalived: vrrp_check_packet checksum part, with old_unicast_checksum auto-detection (§5.10)."""
    length = VRRP_HEADER_LEN + 4 * naddr
    if version != 3:
        if internet_checksum(data[hd_off : hd_off + length + VRRP_AUTH_LEN]):
            c.log("bad_checksum", "Invalid VRRPv2 checksum")
            return c.done(RxResult.KO, "chk_err")
        return None
    pdu = data[hd_off : hd_off + length]
    if params.checksum_mode is ChecksumMode.AS_V2:
        # RFC 9568 form sent; on receive the RFC 5798 pseudo-header form is accepted as well, as
        # keepalived does once v3_checksum_as_v2 is set (landscape.md §2.1): a cluster can be moved to
        # the new form one node at a time, and FRR/keepalived peers on their defaults keep working.
        if internet_checksum(pdu) and internet_checksum(pdu, ipv4_pseudo_header(src, dst, length)):
            c.log("bad_checksum", "Invalid VRRPv3 checksum")
            return c.done(RxResult.KO, "chk_err")
        return None
    group = params.mcast_group if isinstance(params.mcast_group, IPv4Address) else VRRP_MCAST_GROUP4
    old = params.checksum_mode is ChecksumMode.OLD_UNICAST or state.old_unicast_checksum
    pseudo_dst = group if old else dst
    if not internet_checksum(pdu, ipv4_pseudo_header(src, pseudo_dst, length)):
        return None
    if (
        params.is_unicast
        and not old
        and params.old_unicast_checksum_auto
        and pseudo_dst != group
        and not internet_checksum(pdu, ipv4_pseudo_header(src, group, length))
    ):
        state.old_unicast_checksum = True
        c.log("", "Setting unicast VRRPv3 checksum to old version")
        return None
    c.log("bad_checksum", "Invalid VRRPv3 checksum")
    return c.done(RxResult.KO, "chk_err")


__all__ = [
    "RxPacket",
    "RxResult",
    "RxState",
    "RxVerdict",
    "check_packet",
    "next_ah_seq",
    "peek_vrid",
    "reset_ah_on_master",
    "tx_checksum_mode",
]
