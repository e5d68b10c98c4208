"""track_file with real files and inotify (and the polling fallback)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from pykeepalived.track.file import (
    INT_MIN,
    FileTrackers,
    TrackFileSpec,
    init_track_file,
    parse_track_file_value,
    track_file_weight,
)


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"", 0),
        (b"5\n", 5),
        (b"  -12 junk", -12),
        (b"0x1f", 31),
        (b"010", 8),
        (b"abc", 0),
        (b"2147483648", 2147483648),  # INT32_MAX + 1 is accepted by keepalived
        (b"2147483649", None),
        (b"-2147483649", None),
    ],
)
def test_parse(data: bytes, value: int | None) -> None:
    assert parse_track_file_value(data) == value


def test_weight() -> None:
    assert track_file_weight(0, 0, False) == 0
    assert track_file_weight(3, 0, False) == INT_MIN
    assert track_file_weight(0, 0, True) == INT_MIN
    assert track_file_weight(3, 0, True) == 0
    assert track_file_weight(3, -10, False) == -30
    assert track_file_weight(3, -10, True) == 30


def test_init_file(tmp_path: Path) -> None:
    p = tmp_path / "f"
    init_track_file(TrackFileSpec("tf", str(p), init_file=True, init_value=7))
    assert p.read_text() == "7\n"
    init_track_file(TrackFileSpec("tf", str(p), init_file=True, init_value=9))
    assert p.read_text() == "7\n"  # exists, no overwrite
    init_track_file(TrackFileSpec("tf", str(p), init_file=True, init_value=9, init_overwrite=True))
    assert p.read_text() == "9\n"


@pytest.mark.parametrize("poll", [False, True])
def test_changes_seen(tmp_path: Path, poll: bool) -> None:
    p = tmp_path / "state"
    p.write_text("1\n")
    other = tmp_path / "other"
    seen: list[tuple[str, int]] = []

    async def wait_for(n: int) -> None:
        for _ in range(100):
            if len(seen) >= n:
                return
            await asyncio.sleep(0.03)

    async def go() -> None:
        ft = FileTrackers(
            [TrackFileSpec("tf", str(p)), TrackFileSpec("later", str(other))],
            lambda tf, v: seen.append((tf.name, v)),
            poll_interval=0.05,
        )
        if poll:
            ft._start_polling()  # exercise the fallback explicitly
        else:
            ft.start()
            assert ft.using_inotify
        assert ft.values == {"tf": 1, "later": 0}
        p.write_text("5\n")
        await wait_for(1)
        other.write_text("-3")  # created after start
        await wait_for(2)
        tmp = tmp_path / "new"
        tmp.write_text("42\n")
        os.rename(tmp, p)  # atomic replace
        await wait_for(3)
        p.unlink()
        await wait_for(4)
        p.write_text("0\n")  # same value as after the delete: no event
        await asyncio.sleep(0.2)
        ft.stop()

    asyncio.run(go())
    assert seen == [("tf", 5), ("later", -3), ("tf", 42), ("tf", 0)]


def test_missing_directory_removed(tmp_path: Path) -> None:
    async def go() -> FileTrackers:
        ft = FileTrackers([TrackFileSpec("x", str(tmp_path / "nodir" / "f"))])
        ft.start()
        ft.stop()
        return ft

    assert asyncio.run(go()).files == {}
