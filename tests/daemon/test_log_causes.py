"""A child's unexpected failure is logged with its cause (daemon/log.py).

The loggers are the daemon's own (setup_logging: console, -g file; the syslog formatter through a
real SysLogHandler on a socket of the test's), the exceptions real ones raised by pykeepalived's code
(a log file in a missing directory, a malformed process-settings JSON). One line names the exception
and where it was raised, in every destination; the traceback follows only on the console with -D; a
line without an exception is untouched, and a cause that cannot be printed never makes logging fail.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.daemon import log as daemon_log
from pykeepalived.daemon.log import EXIT_PROGRAM_ERROR, log, log_file_name, run_logged, setup_logging
from pykeepalived.daemon.procconf import ProcConf
from pykeepalived.options import Options
from pykeepalived.safefile import open_append

STAMP = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d(\.\d{9})? \d{4}: "  # console %c or -g file time stamp


@pytest.fixture(autouse=True)
def restore_logger() -> Iterator[None]:
    saved = (list(log.handlers), log.level, log.propagate)
    yield
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    for h in saved[0]:
        log.addHandler(h)
    log.setLevel(saved[1])
    log.propagate = saved[2]


def daemon_logging(tmp_path: Path, detail: int) -> Path:
    """The VRRP child's logging as with `-n -l -G -g FILE --flush-log-file [-D]`; the -g file's path."""
    base = str(tmp_path / "keepalived.log")
    setup_logging(Options(dont_fork=True, log_console=True, no_syslog=True, log_file=base,
                          flush_log_file=True, log_detail=detail), "vrrp")
    return Path(log_file_name(base, "vrrp"))


def lines(text: str) -> list[str]:
    return [re.sub("^" + STAMP, "", x) for x in text.splitlines()]


async def open_missing_log(tmp_path: Path) -> int:
    open_append(str(tmp_path / "missing" / "k.log"))  # FileNotFoundError, raised in pykeepalived/safefile.py
    return 0


@pytest.mark.parametrize("detail", [0, 1], ids=["noD", "D"])
def test_child_failure_logged_with_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         detail: int) -> None:
    path = daemon_logging(tmp_path, detail)
    assert run_logged(lambda: open_missing_log(tmp_path), "VRRP child failed") == EXIT_PROGRAM_ERROR
    missing = re.escape(str(tmp_path / "missing" / "k.log"))
    wanted = (rf"VRRP child failed: FileNotFoundError: \[Errno 2\] No such file or directory: '{missing}' "
              rf"\(at pykeepalived/safefile\.py:\d+ in open_append\)")
    in_file = lines(path.read_text())
    assert len(in_file) == 1 and re.fullmatch(wanted, in_file[0]), in_file  # one line, no traceback
    console = lines(capsys.readouterr().err)
    assert re.fullmatch(wanted, console[0]), console
    if detail:  # -D in the foreground: the traceback after the line, down to the raising call
        assert console[1] == "Traceback (most recent call last):", console
        assert any("open_append" in x for x in console), console
        assert console[-1].startswith("FileNotFoundError"), console
    else:
        assert len(console) == 1, console


def test_library_frame_and_ours(tmp_path: Path) -> None:
    """Raised in a library (json): the line names its frame and the innermost frame of ours."""
    path = daemon_logging(tmp_path, 0)
    try:
        ProcConf.from_json("{")
    except ValueError:
        log.exception("internal error while reloading")
    [line] = lines(path.read_text())
    assert re.fullmatch(r"internal error while reloading: JSONDecodeError: Expecting property name enclosed "
                        r"in double quotes: line 1 column 2 \(char 1\) \(at json/decoder\.py:\d+ in "
                        r"raw_decode, from pykeepalived/daemon/procconf\.py:\d+ in from_json\)", line), line


def test_syslog_line_carries_the_cause(tmp_path: Path) -> None:
    addr = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sink:
        sink.bind(addr)
        sink.settimeout(5)
        handler = logging.handlers.SysLogHandler(addr)
        handler.setFormatter(daemon_log._SyslogFormatter("Keepalived_healthcheckers"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        code = run_logged(lambda: open_missing_log(tmp_path), "Healthcheck child failed")
        assert code == EXIT_PROGRAM_ERROR
        text = sink.recv(4096).decode()
    assert re.fullmatch(rf"<\d+>Keepalived_healthcheckers\[{os.getpid()}\]: Healthcheck child failed: "
                        r"FileNotFoundError: .* \(at pykeepalived/safefile\.py:\d+ in open_append\)\x00?",
                        text), text


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_plain_lines_unchanged_and_logging_never_fails(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = daemon_logging(tmp_path, 1)
    log.info("(VI_1) Entering MASTER STATE")
    try:
        raise Unprintable
    except Unprintable:
        log.exception("BFD child failed")
    assert lines(path.read_text()) == ["(VI_1) Entering MASTER STATE", "BFD child failed: Unprintable"]
    assert "Logging error" not in capsys.readouterr().err
