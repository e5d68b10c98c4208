# Theory of operation
# -------------------
# Every file the daemon writes as root goes through here, so that no local user can make it write
# somewhere else (keepalived 2.2.7's fopen_safe and the O_NOFOLLOW opens of its pid, log and -t
# files). Two ways of writing:
#
# - replace(path, text): a whole file (signal dumps, config_save_dir copies, track_file init_file).
#   The text goes to a new file in the same directory with an unpredictable name, created with
#   O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 (tempfile.mkstemp), so a planted symlink or file at any
#   name we could choose is never opened; it then gets keepalived's mode (0666 less the umask) and is
#   renamed over `path`. rename() replaces a symlink or a planted file at `path` itself rather than
#   following it, and a reader sees the old file or the new one, never half of one.
# - open_append(path, mode): logs and the -t output file, appended to as keepalived does, opened with
#   O_NOFOLLOW so a symlink at the name is refused (ELOOP) instead of followed.
#
# A stdlib-only leaf module: the config, track and daemon packages all use it without depending on
# each other.
"""Symlink-safe writing of the files the daemon creates."""

from __future__ import annotations

import contextlib
import os
import tempfile

__all__ = ["current_umask", "open_append", "replace"]


def current_umask() -> int:
    """The process's umask, read without changing it (other threads may be creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def replace(path: str, text: str | bytes, mode: int | None = None) -> None:
    """Write `path` whole through an unpredictable O_EXCL|O_NOFOLLOW temporary in its directory.

    mode: the file's permissions; default keepalived's fopen_safe: 0666 less the umask."""
    directory, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory or ".")
    try:
        os.fchmod(fd, (0o666 & ~current_umask()) if mode is None else mode)
        data = text.encode() if isinstance(text, str) else text
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.close(fd)
        fd = -1
        os.rename(tmp, path)
    except BaseException:
        if fd != -1:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def open_append(path: str, mode: int = 0o644) -> int:
    """An O_APPEND descriptor on `path`, created with `mode` (less the umask); a symlink is refused."""
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
