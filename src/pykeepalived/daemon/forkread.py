"""Answers computed from the configuration in a short-lived fork.

The parent imports the configuration code (its children run it: daemon/parent/forkchild.py) but never
holds a parsed model: whatever it must know from keepalived.conf (which children to start, the
nftables table name a reload may not change) is computed in a fork and sent back as one line of text
on a pipe, so the parent's heap, whose pages the children share, is not churned by a parse.
"""

from __future__ import annotations

import os
from collections.abc import Callable


def in_fork(fn: Callable[[], str]) -> str:
    """fn() run in a forked process (its one-line answer); run here if the fork fails. Exceptions
    in the fork make it fall back to running fn here, so they surface in the caller."""
    try:
        rfd, wfd = os.pipe()
        pid = os.fork()
    except OSError:
        return fn()
    if pid == 0:  # pragma: no cover - the forked reader
        code = 1
        try:
            os.close(rfd)
            os.write(wfd, fn().encode() + b"\n")
            code = 0
        finally:
            os._exit(code)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as r:
        answer = r.read()
    _, status = os.waitpid(pid, 0)
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and answer.endswith(b"\n")):
        return fn()
    return answer[:-1].decode()
