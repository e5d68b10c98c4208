"""BFD Control packet codec: round trip, every §6.8.6 check, and a fuzz run (only BfdPacketError escapes)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pykeepalived.bfd.packet import (
    CONTROL_LEN,
    BfdPacketError,
    ControlPacket,
    Diag,
    DropReason,
    State,
    decode,
    encode,
)

GOOD = ControlPacket(state=State.UP, diag=Diag.NO_DIAGNOSTIC, detect_mult=5, my_discriminator=0x11223344,
                     your_discriminator=0x55667788, desired_min_tx_us=10_000, required_min_rx_us=20_000)


def test_known_bytes() -> None:
    # RFC 5880 §4.1 layout: Vers 1 | Diag 0, Sta 3 (Up) + P, mult 5, len 24, discrs, intervals
    raw = encode(dataclasses.replace(GOOD, poll=True))
    assert raw.hex() == "20e00518" "11223344" "55667788" "00002710" "00004e20" "00000000"
    assert len(raw) == CONTROL_LEN


packets = st.builds(
    ControlPacket,
    state=st.sampled_from(State),
    diag=st.sampled_from(Diag),
    detect_mult=st.integers(1, 255),
    my_discriminator=st.integers(1, 2**32 - 1),
    your_discriminator=st.integers(1, 2**32 - 1),
    desired_min_tx_us=st.integers(0, 2**32 - 1),
    required_min_rx_us=st.integers(0, 2**32 - 1),
    required_min_echo_rx_us=st.integers(0, 2**32 - 1),
    poll=st.booleans(),
    final=st.just(False),
    control_plane_independent=st.booleans(),
    demand=st.booleans(),
)


@given(packets)
def test_round_trip(p: ControlPacket) -> None:
    assert decode(encode(p)) == p


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"version": 0}, DropReason.BAD_VERSION),
        ({"version": 2}, DropReason.BAD_VERSION),
        ({"detect_mult": 0}, DropReason.ZERO_MULTIPLIER),
        ({"multipoint": True}, DropReason.MULTIPOINT),
        ({"my_discriminator": 0}, DropReason.ZERO_MY_DISCRIMINATOR),
        ({"your_discriminator": 0}, DropReason.ZERO_YOUR_DISCRIMINATOR),  # state Up
        ({"your_discriminator": 0, "state": State.INIT}, DropReason.ZERO_YOUR_DISCRIMINATOR),
        ({"poll": True, "final": True}, DropReason.POLL_AND_FINAL),
        ({"diag": 9}, DropReason.BAD_DIAGNOSTIC),
        ({"authentication": True}, DropReason.AUTHENTICATION),
        ({"length": 23}, DropReason.BAD_LENGTH),
        ({"length": 48}, DropReason.BAD_LENGTH),
    ],
)
def test_each_reception_check(change: dict[str, object], reason: DropReason) -> None:
    raw = encode(dataclasses.replace(GOOD, **change))  # type: ignore[arg-type]
    with pytest.raises(BfdPacketError) as e:
        decode(raw)
    assert e.value.reason is reason


def test_zero_your_discriminator_allowed_while_down() -> None:
    for state in (State.DOWN, State.ADMIN_DOWN):
        p = dataclasses.replace(GOOD, your_discriminator=0, state=state)
        assert decode(encode(p)) == p


def test_short_and_trailing_bytes() -> None:
    with pytest.raises(BfdPacketError) as e:
        decode(encode(GOOD)[:20])
    assert e.value.reason is DropReason.TOO_SHORT
    with pytest.raises(BfdPacketError) as e:
        decode(encode(GOOD) + b"\0" * 4)  # Length field 24 but 28 bytes (keepalived: must be equal)
    assert e.value.reason is DropReason.BAD_LENGTH


def test_encode_refuses_out_of_range() -> None:
    with pytest.raises(ValueError):
        encode(dataclasses.replace(GOOD, my_discriminator=2**32))
    with pytest.raises(ValueError):
        encode(dataclasses.replace(GOOD, detect_mult=256))


@settings(max_examples=400)
@given(st.binary(min_size=0, max_size=64))
def test_fuzz_only_our_error(data: bytes) -> None:
    try:
        p = decode(data)
    except BfdPacketError:
        return
    assert encode(p) == data  # whatever is accepted re-encodes to the same bytes


@settings(max_examples=300)
@given(packets, st.integers(0, 23), st.integers(0, 255))
def test_fuzz_mutated_valid_packets(p: ControlPacket, pos: int, byte: int) -> None:
    raw = bytearray(encode(p))
    raw[pos] = byte
    try:
        q = decode(bytes(raw))
    except BfdPacketError:
        return
    assert encode(q) == bytes(raw)
