"""Notify scripts (argv recorded by real scripts) and FIFO lines read from real FIFOs."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from pathlib import Path

import pytest

from pykeepalived.notify.fifo import FifoSet, FifoSpec, NotifyFifo, lvs_rs_fifo_line, lvs_vs_fifo_line
from pykeepalived.notify.scripts import Notifier, NotifyScripts
from pykeepalived.track.command import ChildSet, ScriptCommand


def recorder(tmp_path: Path, name: str, log: Path) -> ScriptCommand:
    p = tmp_path / name
    p.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\n')
    p.chmod(0o755)
    return ScriptCommand.from_argv([str(p)])


async def wait_lines(path: Path, n: int, timeout: float = 3.0) -> list[str]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            break
        await asyncio.sleep(0.02)
    return path.read_text().splitlines() if path.exists() else []


def test_instance_and_group_notifies(tmp_path: Path) -> None:
    log = tmp_path / "log"
    scripts = NotifyScripts(
        master=recorder(tmp_path, "master", log),
        backup=recorder(tmp_path, "backup", log),
        notify=ScriptCommand.from_argv([str(recorder(tmp_path, "generic", log).argv[0]), "cfgarg"]),
        master_rx_lower_pri=recorder(tmp_path, "rxlower", log),
    )

    async def go() -> list[str]:
        n = Notifier()
        n.instance("VI_1", "MASTER", 100, scripts)
        await wait_lines(log, 2)  # the state script is started before the generic one
        n.instance("VI_1", "BACKUP", 95, scripts)
        n.group("G1", "FAULT", NotifyScripts(notify=scripts.notify))
        n.master_rx_lower_pri("VI_1", 100, scripts)
        n.instance("VI_1", "DELETED", 95, scripts)  # no notify_deleted: reported as FAULT
        lines = await wait_lines(log, 7)
        await n.close()
        return lines

    lines = asyncio.run(go())
    # both scripts are started in keepalived's order (state script first) but run concurrently,
    # so their writes may land in either order
    assert sorted(lines[:2]) == ["generic cfgarg INSTANCE VI_1 MASTER 100", "master "]
    assert sorted(lines[2:]) == sorted(
        [
            "backup ",
            "generic cfgarg INSTANCE VI_1 BACKUP 95",
            "generic cfgarg GROUP G1 FAULT 0",
            "rxlower ",
            "generic cfgarg INSTANCE VI_1 FAULT 95",
        ]
    )


def test_stop_script_killed_after_1s(tmp_path: Path) -> None:
    hang = tmp_path / "hang.sh"
    hang.write_text("#!/bin/sh\nsleep 30\n")
    hang.chmod(0o755)

    async def go() -> float:
        n = Notifier()
        n.instance("VI_1", "STOP", 100, NotifyScripts(stop=ScriptCommand.from_argv([str(hang)])))
        await n.flush()
        t0 = time.monotonic()
        await n.children.wait_all(5)
        return time.monotonic() - t0

    assert 0.7 < asyncio.run(go()) < 2.0


def test_fifo_lines_and_script(tmp_path: Path) -> None:
    fifo = tmp_path / "notify.fifo"
    out = tmp_path / "fifo_out"
    reader = tmp_path / "reader.sh"
    # the reader script gets the FIFO path as its last argument
    reader.write_text(f'#!/bin/sh\necho "ARG $1" > {out}\nexec cat "$1" >> {out}\n')
    reader.chmod(0o755)
    log = tmp_path / "log"

    async def go() -> list[str]:
        fifos = FifoSet(FifoSpec(str(fifo), script=ScriptCommand.from_argv([str(reader)])))
        await fifos.open()
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
        n = Notifier(fifos)
        sc = NotifyScripts(notify=recorder(tmp_path, "g", log))
        n.instance("VI_1", "MASTER", 100, sc)
        n.group("G1", "BACKUP", sc)
        n.priority_change("VI_1", True, 80)
        n.master_rx_lower_pri("VI_1", 100, sc)
        n.instance("VI_1", "DELETED", 100, NotifyScripts(notify_deleted=True))
        await n.flush()
        lines = await wait_lines(out, 6)
        await n.close()
        fifos.close()
        return lines

    lines = asyncio.run(go())
    assert lines == [
        f"ARG {fifo}",
        'INSTANCE "VI_1" MASTER 100',
        'GROUP "G1" BACKUP 0',
        'INSTANCE "VI_1" MASTER_PRIORITY 80',
        'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100',
        'INSTANCE "VI_1" DELETED 100',
    ]
    assert not fifo.exists()  # we created it, so we removed it


def test_existing_fifo_kept_and_raw_bytes(tmp_path: Path) -> None:
    path = tmp_path / "f"
    os.mkfifo(path)

    async def go() -> bytes:
        f = NotifyFifo(FifoSpec(str(path)), "lvs_")
        assert await f.open(ChildSet())
        rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        f.write(lvs_vs_fifo_line("[192.0.2.1]:tcp:80", True))
        f.write(lvs_rs_fifo_line("[192.0.2.2]:tcp:80", "[192.0.2.1]:tcp:80", False, lvs_nul=True))
        data = os.read(rfd, 4096)
        os.close(rfd)
        f.close()
        return data

    assert asyncio.run(go()) == b"VS [192.0.2.1]:tcp:80 UP\nRS [192.0.2.2]:tcp:80 [192.0.2.1]:tcp:80 DOWN\n\0"
    assert path.exists()  # pre-existing FIFO is not removed


def test_full_fifo_never_blocks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "f"

    async def go() -> tuple[int, float]:
        f = NotifyFifo(FifoSpec(str(path)))
        assert await f.open(ChildSet())
        t0 = time.monotonic()
        line = b"x" * 1000 + b"\n"
        for _ in range(200):  # 200 kB > the 64 kB pipe buffer, nobody reading
            f.write(line)
        elapsed = time.monotonic() - t0
        f.close()
        return f.dropped, elapsed

    dropped, elapsed = asyncio.run(go())
    assert dropped > 0 and elapsed < 1.0
    assert not any("write error" in r.getMessage() for r in caplog.records)  # EAGAIN is silent
