# Theory of operation
# -------------------
# Value types for pykeepalived's own global_defs extension keywords (documented in
# docs/compatibility.md as "extension"; keepalived 2.2.7 rejects them as unknown keywords):
#
#   pykeepalived_metrics_address [ADDRESS][:PORT]   Prometheus endpoint, opt-in; bare keyword =
#                                                   127.0.0.1:9650, a bare port = 127.0.0.1:PORT,
#                                                   IPv6 as [2001:db8::1]:9650; the checker
#                                                   child listens on the same address, port + 1
#   pykeepalived_control_socket PATH|off            the VRRP child's control socket (default: next
#                                                   to the VRRP pid file, pykeepalived.sock)
"""Grammar value types for pykeepalived's extension keywords."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pykeepalived.config.diag import Loc, Reporter
from pykeepalived.config.types import INVALID, Value, VType, is_digits

DEFAULT_METRICS_HOST = "127.0.0.1"
DEFAULT_METRICS_PORT = 9650


def parse_listen(word: str) -> tuple[str, int] | None:
    """`ADDR`, `ADDR:PORT`, `PORT`, `[V6]:PORT` or `V6` -> (host, port); None if malformed."""
    host, port = DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT
    if is_digits(word):
        port = int(word)
    elif word.startswith("["):
        end = word.find("]")
        if end < 0:
            return None
        host, rest = word[1:end], word[end + 1 :]
        if rest:
            if not rest.startswith(":") or not is_digits(rest[1:]):
                return None
            port = int(rest[1:])
    elif word.count(":") == 1:
        host, p = word.split(":")
        if not is_digits(p):
            return None
        port = int(p)
    else:
        host = word
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    if not 0 < port < 65536:
        return None
    return host, port


@dataclass(frozen=True, slots=True)
class ListenAddress(VType):
    """`[ADDRESS][:PORT]` of a local TCP listener; value is "host port" words."""

    def parse(self, kw: str, args: tuple[str, ...], raw: str, loc: Loc, rep: Reporter) -> Value:
        if not args:
            return (DEFAULT_METRICS_HOST, str(DEFAULT_METRICS_PORT))
        hp = parse_listen(args[0])
        if hp is None:
            rep.error(loc, f"{kw} '{args[0]}' is not a valid ADDRESS[:PORT] - ignoring")
            return INVALID
        return (hp[0], str(hp[1]))

    def fmt(self, value: Value) -> str:
        assert isinstance(value, tuple)
        host, port = value
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
