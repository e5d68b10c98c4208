# Theory of operation
# -------------------
# The typed LVS part of the model (keepalived.md §1.12): virtual servers, real servers and one
# dataclass per checker kind. Field names are keepalived's keywords (timers carry a `_us` suffix and
# hold microseconds), so that build_lvs.py fills them (its handler tables, or by name for the
# checkers) and dump.py prints them generically from the grammar tables. Checker timing/connection
# values are *resolved* (checker -> real server -> virtual server -> built-in default, keepalived.md
# §1.12.5), so the runtime reads them directly.
"""LVS configuration model: virtual_server, real_server, checkers."""

from __future__ import annotations

from dataclasses import dataclass, field

from pykeepalived.config.diag import NOWHERE, Loc
from pykeepalived.config.types import IPAddr, read_hex_str

Options = tuple[tuple[str, object], ...]
Script = tuple[str, str, str]  # (command, user, group)
SEC = 1_000_000


@dataclass(frozen=True, slots=True)
class Checker:
    """Keywords common to every checker (connection keywords unused by MISC/FILE/BFD)."""

    kind: str = ""  # TCP_CHECK, HTTP_GET, ...
    connect_ip: IPAddr | None = None  # None: the real server's address
    connect_port: int | None = None  # None: the real server's port
    bindto: IPAddr | None = None
    bind_port: int | None = None
    bind_if: str | None = None
    connect_timeout_us: int = 5 * SEC
    fwmark: int | None = None
    retry: int = 1
    delay_before_retry_us: int = 1 * SEC
    warmup_us: int = 60 * SEC
    delay_loop_us: int = 60 * SEC
    alpha: bool = False
    log_all_failures: bool | None = None  # None: global checker_log_all_failures
    loc: Loc = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class TcpCheck(Checker):
    pass


@dataclass(frozen=True, slots=True)
class PingCheck(Checker):
    pass


@dataclass(frozen=True, slots=True)
class UrlSpec:
    path: str
    digest: str | None = None  # lower-case MD5 hex
    status_code: tuple[tuple[int, int], ...] = ((200, 299),)  # inclusive ranges
    virtualhost: str | None = None
    regex: str | None = None
    regex_no_match: bool = False
    regex_options: tuple[str, ...] = ()
    regex_min_offset: int | None = None
    regex_max_offset: int | None = None
    regex_stack: tuple[str, ...] = ()
    tls_compliant: bool | None = None
    loc: Loc = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class HttpCheck(Checker):
    """HTTP_GET and SSL_GET."""

    urls: tuple[UrlSpec, ...] = ()
    http_protocol: str = "1.0"
    virtualhost: str | None = None
    fast_recovery: bool = False
    enable_sni: bool = False
    sni_name: str | None = None
    tls_compliant: bool | None = None


@dataclass(frozen=True, slots=True)
class SmtpCheck(Checker):
    helo_name: str = "smtpchecker.keepalived.org"
    hosts: tuple[Options, ...] = ()  # deprecated `host { }` sub-blocks (each an extra checker)


@dataclass(frozen=True, slots=True)
class MiscCheck(Checker):
    misc_path: Script | None = None
    misc_timeout_us: int | None = None  # None: the delay_loop
    misc_dynamic: bool = False
    user: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DnsCheck(Checker):
    type: str = "SOA"
    name: str = ""


@dataclass(frozen=True, slots=True)
class UdpCheck(Checker):
    payload: str | None = None  # hex text as configured; None: random payload
    require_reply: str | None = None  # None: no reply needed; "": any reply; else hex (x = wildcard)
    min_reply_length: int = 0
    max_reply_length: int = 255

    @property
    def payload_bytes(self) -> bytes | None:
        r = read_hex_str(self.payload) if self.payload else None
        return r[0] if r else None

    @property
    def reply_pattern(self) -> tuple[bytes, bytes] | None:
        """(data, mask): mask bits set are wildcards."""
        return read_hex_str(self.require_reply, True) if self.require_reply else None


@dataclass(frozen=True, slots=True)
class FileCheck(Checker):
    track_file: str = ""
    weight: int | None = None  # None: the track_file's weight
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class BfdCheck(Checker):
    name: str = ""


CHECKER_CLASSES: dict[str, type[Checker]] = {
    "TCP_CHECK": TcpCheck,
    "HTTP_GET": HttpCheck,
    "SSL_GET": HttpCheck,
    "SMTP_CHECK": SmtpCheck,
    "MISC_CHECK": MiscCheck,
    "DNS_CHECK": DnsCheck,
    "UDP_CHECK": UdpCheck,
    "PING_CHECK": PingCheck,
    "FILE_CHECK": FileCheck,
    "BFD_CHECK": BfdCheck,
}


@dataclass(frozen=True, slots=True)
class RealServer:
    address: IPAddr
    port: int | None
    weight: int = 1  # default: the virtual server's `weight`
    inhibit_on_failure: bool | None = None  # None: the virtual server's
    notify_up: Script | None = None
    notify_down: Script | None = None
    uthreshold: int = 0
    lthreshold: int = 0
    lvs_method: tuple[str, ...] | None = None  # None: the virtual server's lb_kind
    alpha: bool | None = None
    retry: int | None = None
    connect_timeout_us: int | None = None
    delay_before_retry_us: int | None = None
    warmup_us: int | None = None
    delay_loop_us: int | None = None
    smtp_alert: bool | None = None
    virtualhost: str | None = None
    snmp_name: str | None = None
    checkers: tuple[Checker, ...] = ()
    options: Options = ()
    loc: Loc = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class VirtualServer:
    kind: str  # "ip" | "fwmark" | "group"
    address: IPAddr | None = None
    port: int | None = None
    fwmark: int | None = None
    group: str | None = None
    lb_algo: str = "wlc"
    lb_kind: tuple[str, ...] = ("NAT",)
    protocol: str = "TCP"
    ip_family: str | None = None
    delay_loop_us: int = 60 * SEC
    connect_timeout_us: int | None = None
    retry: int | None = None
    delay_before_retry_us: int | None = None
    warmup_us: int | None = None
    inhibit_on_failure: bool = False
    persistence_engine: str | None = None
    persistence_timeout: int | None = None  # seconds; `persistence_timeout` alone means 360
    persistence_granularity: str | None = None
    ha_suspend: bool = False
    alpha: bool = False
    omega: bool = False
    quorum: int = 1
    hysteresis: int = 0
    quorum_up: Script | None = None
    quorum_down: Script | None = None
    sorry_server: tuple[str, ...] | None = None  # (address, [port])
    sorry_server_inhibit: bool = False
    sorry_server_lvs_method: tuple[str, ...] | None = None
    virtualhost: str | None = None
    smtp_alert: bool | None = None
    snmp_name: str | None = None
    weight: int = 1  # default weight of its real servers
    real_servers: tuple[RealServer, ...] = ()
    options: Options = ()  # scheduler flags (hashed, ops, flag-N, sh-*, mh-*)
    # the IPVS scheduler flags among them (build_lvs.SCHED_FLAGS), in file order, for the runtime
    sched_flags: tuple[str, ...] = ()
    loc: Loc = field(default=NOWHERE, compare=False)
