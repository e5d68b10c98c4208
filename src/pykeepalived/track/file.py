# Theory of operation
# -------------------
# track_file (keepalived.md §1.5; keepalived trackers/track_file.c). Each tracked file is
# watched through inotify on its *directory* (IN_CLOSE_WRITE | IN_DELETE | IN_MOVE), so files
# that are created later, replaced by rename, or deleted are all seen. On close-after-write or
# move-in the file is re-read: the first 127 bytes are parsed with strtol(base 0) semantics
# (leading white space, sign, 0x/0 prefixes, trailing junk ignored; unreadable/empty = 0; out of
# the int32 range -> "Invalid number N read from PATH - ignoring"). Deleted or moved away = 0.
# Changes of the value are reported to the callback as a plain integer; the weight arithmetic
# (value x weight, reverse, <= -254 -> FAULT) is `track_file_weight` below for the VRRP core.
# The path is canonicalised at start (realpath of the file, or of its directory if the file does
# not exist yet). `init_file [VALUE] [overwrite]` writes "VALUE\n" at startup.
# inotify is used through ctypes; if it is unavailable the watcher polls every `poll_interval`.
"""track_file: integer-valued files watched with inotify."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import re
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass

from pykeepalived.safefile import replace

log = logging.getLogger("pykeepalived.track")

IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_DELETE = 0x200
IN_MOVE = IN_MOVED_FROM | IN_MOVED_TO
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
INT_MIN = INT32_MIN  # keepalived's FAULT marker for weight-0 files


@dataclass(frozen=True, slots=True)
class TrackFileSpec:
    name: str
    path: str
    init_file: bool = False  # `init_file` given
    init_value: int = 0
    init_overwrite: bool = False  # `init_file ... overwrite`


_STRTOL = re.compile(r"[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


def strtol0(text: str) -> int:
    """C strtol(text, NULL, 0): the longest valid prefix, 0 if none."""
    m = _STRTOL.match(text)
    if not m:
        return 0
    sign, digits = m.groups()
    if digits[:2] in ("0x", "0X"):
        v = int(digits, 16)
    elif digits.startswith("0"):
        v = int(digits, 8) if len(digits) > 1 else 0
    else:
        v = int(digits)
    return -v if sign == "-" else v


def parse_track_file_value(data: bytes) -> int | None:
    """Value of a tracked file's content as keepalived reads it; None = invalid, keep the old one."""
    if not data:
        return 0
    text = data[:127].decode("latin-1")
    v = strtol0(text)
    if v < INT32_MIN or v > INT32_MAX + 1:
        return None
    return v


def read_track_file(path: str) -> tuple[int | None, bool]:
    """(value, exists). A missing/unreadable file reads as 0."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return 0, False
    try:
        data = os.read(fd, 127)
    except OSError:
        data = b""
    finally:
        os.close(fd)
    v = parse_track_file_value(data)
    if v is None:
        # strtol saturates at the 64-bit range (errno ERANGE), keepalived prints that value
        raw = max(-(2**63), min(2**63 - 1, strtol0(data[:127].decode("latin-1"))))
        log.info("Invalid number %d read from %s - ignoring", raw, path)
    return v, True


def track_file_weight(value: int, weight: int, reverse: bool) -> int:
    """keepalived track_file.c: update_track_file_status, per tracking instance.

    weight 0: non-zero value -> INT_MIN (FAULT), zero -> 0 (reverse inverts). Otherwise
    value x weight (x -1 if reverse), clamped to the int range; the VRRP core treats <= -254 as
    FAULT and adds anything else to the priority.
    """
    mult = -1 if reverse else 1
    if weight == 0:
        return INT_MIN if ((value == 0) != (mult == 1)) else 0
    return max(INT32_MIN, min(INT32_MAX, value * weight * mult))


def init_track_file(spec: TrackFileSpec, *, reload: bool = False) -> None:
    """Write `init_file` VALUE at startup (track_file.c: track_file_end_handler)."""
    if not spec.init_file:
        return
    try:
        st = os.stat(spec.path)
    except OSError:
        st = None
    if st is not None:
        if not spec.init_overwrite:
            return
        if not stat.S_ISREG(st.st_mode):
            log.info("Cannot initialise track file %s - it is not a regular file", spec.name)
            return
        if reload:
            return
    try:
        replace(spec.path, f"{spec.init_value}\n")
    except OSError:
        log.info("Unable to initialise track file %s", spec.name)


def _canonical(path: str) -> tuple[str, bool] | None:
    """(canonical path, exists) or None if the directory does not exist."""
    if os.path.exists(path):
        return os.path.realpath(path), True
    d, base = os.path.split(path)
    rd = os.path.realpath(d or ".")
    if not os.path.isdir(rd):
        return None
    return os.path.join(rd, base), False


FileCallback = Callable[["TrackedFile", int], None]


class TrackedFile:
    def __init__(self, spec: TrackFileSpec, path: str) -> None:
        self.spec = spec
        self.path = path
        self.directory, self.file_part = os.path.split(path)
        self.value = 0  # keepalived last_status
        self.wd = -1

    @property
    def name(self) -> str:
        return self.spec.name


class _Inotify:
    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)  # the process's libc (find_library runs ldconfig)
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        self.fd: int = fd

    def add_watch(self, path: str, mask: int) -> int:
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path), ctypes.c_uint32(mask))
        if wd < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e), path)
        return int(wd)

    def read_events(self) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return out
            except InterruptedError:
                continue
            pos = 0
            while pos + _EVENT.size <= len(buf):
                wd, mask, _cookie, ln = _EVENT.unpack_from(buf, pos)
                raw = buf[pos + _EVENT.size : pos + _EVENT.size + ln]
                out.append((wd, mask, os.fsdecode(raw.split(b"\0", 1)[0])))
                pos += _EVENT.size + ln

    def close(self) -> None:
        os.close(self.fd)


class FileTrackers:
    """Watches all track_files; calls `on_change(tracked_file, new_value)` when a value changes.

    `start()` canonicalises paths, reads the current values (no callback: they are the initial
    values, readable from `values`), and begins watching.
    """

    def __init__(
        self, specs: list[TrackFileSpec], on_change: FileCallback | None = None, poll_interval: float = 1.0
    ) -> None:
        self.specs = specs
        self.on_change = on_change
        self.poll_interval = poll_interval
        self.files: dict[str, TrackedFile] = {}
        self._inotify: _Inotify | None = None
        self._poller: asyncio.Task[None] | None = None
        self.using_inotify = False

    @property
    def values(self) -> dict[str, int]:
        return {n: f.value for n, f in self.files.items()}

    def _load(self) -> None:
        for spec in self.specs:
            canon = _canonical(spec.path)
            if canon is None:
                log.info("Track file directory for %s does not exist - removing", spec.name)
                continue
            tf = TrackedFile(spec, canon[0])
            if canon[1]:
                v, _ = read_track_file(tf.path)
                if v is not None:
                    tf.value = v
            self.files[spec.name] = tf

    def _start_polling(self) -> None:
        self._load()
        self._poller = asyncio.get_running_loop().create_task(self._poll())

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._load()
        try:
            self._inotify = _Inotify()
            for tf in self.files.values():
                tf.wd = self._inotify.add_watch(tf.directory, IN_CLOSE_WRITE | IN_DELETE | IN_MOVE)
            loop.add_reader(self._inotify.fd, self._on_inotify)
            self.using_inotify = True
        except OSError as e:
            log.info("Unable to monitor track files (%s) - polling", e.strerror)
            if self._inotify is not None:
                self._inotify.close()
                self._inotify = None
            self._poller = loop.create_task(self._poll())

    def stop(self) -> None:
        if self._inotify is not None:
            asyncio.get_running_loop().remove_reader(self._inotify.fd)
            self._inotify.close()
            self._inotify = None
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None

    def _update(self, tf: TrackedFile, value: int) -> None:
        if value == tf.value:
            return
        tf.value = value
        if self.on_change is not None:
            self.on_change(tf, value)

    def _on_inotify(self) -> None:
        assert self._inotify is not None
        try:
            events = self._inotify.read_events()
        except OSError as e:
            log.info("inotify read() returned error %d - %s", e.errno or 0, e.strerror)
            return
        for wd, mask, name in events:
            if mask & IN_ISDIR:
                continue
            if not mask & (IN_DELETE | IN_CLOSE_WRITE | IN_MOVE):
                continue
            for tf in self.files.values():
                if tf.wd != wd or tf.file_part != name:
                    continue
                if mask & (IN_MOVED_FROM | IN_DELETE):
                    self._update(tf, 0)
                else:
                    v, _ = read_track_file(tf.path)
                    if v is not None:
                        self._update(tf, v)

    async def _poll(self) -> None:
        stamps: dict[str, tuple[int, int, int] | None] = {}
        while True:
            for tf in self.files.values():
                try:
                    st = os.stat(tf.path)
                    stamp: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
                except OSError:
                    stamp = None
                if tf.name in stamps and stamps[tf.name] == stamp:
                    continue
                stamps[tf.name] = stamp
                v, _ = read_track_file(tf.path)
                if v is not None:
                    self._update(tf, v)
            await asyncio.sleep(self.poll_interval)
