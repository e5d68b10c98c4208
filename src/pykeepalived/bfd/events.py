"""BFD session events as the BFD child reports them to the VRRP and checker children.

# Theory of operation
keepalived's parent creates two pipes before it forks (BFD -> VRRP, BFD -> checker) and keeps both
ends open for its whole life, so a respawned child finds its pipe where it left it. We do the same:
the parent (daemon/parent/watchdog.py) makes the pipes and leaves the ends open in the forked children
(the rest are closed), naming them in the environment:

    PYKEEPALIVED_BFD_VRRP_FD     write end, in the BFD child (events for the VRRP child)
    PYKEEPALIVED_BFD_CHECKER_FD  write end, in the BFD child (events for the checker child)
    PYKEEPALIVED_BFD_EVENT_FD    read end, in the VRRP child or the checker child

An event is one line of ASCII, `NAME UP\\n` or `NAME DOWN\\n` (NAME is a bfd_instance name, at most
31 characters, no blanks). A bfd_instance with `vrrp` only (or `checker` only) sends only to that
child. The BFD child writes a line on every Up <-> Down change (a peer's AdminDown takes the session
Down without an event, as keepalived does: RFC 5880 §6.8.16) and, when it starts (or is told to
resend with SIGHUP), the current state of every session, so a consumer that was respawned learns where
it stands. Lines are short (< PIPE_BUF), so each write is atomic.
"""

from __future__ import annotations

from dataclasses import dataclass

ENV_VRRP_FD = "PYKEEPALIVED_BFD_VRRP_FD"
ENV_CHECKER_FD = "PYKEEPALIVED_BFD_CHECKER_FD"
ENV_EVENT_FD = "PYKEEPALIVED_BFD_EVENT_FD"


@dataclass(frozen=True, slots=True)
class BfdEvent:
    name: str
    up: bool

    def encode(self) -> bytes:
        return f"{self.name} {'UP' if self.up else 'DOWN'}\n".encode("ascii")


def decode_events(buf: bytes) -> tuple[list[BfdEvent], bytes]:
    """Complete events in `buf` and the unfinished tail; malformed lines are skipped."""
    *lines, rest = buf.split(b"\n")
    events = []
    for line in lines:
        parts = line.decode("ascii", "replace").split()
        if len(parts) == 2 and parts[1] in ("UP", "DOWN"):
            events.append(BfdEvent(parts[0], parts[1] == "UP"))
    return events, rest
