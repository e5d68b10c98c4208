"""Typed specs the checker runtime consumes (keepalived.md §1.12).

# Theory of operation
These small frozen dataclasses are the checker's own input contract. The configuration model is mapped
onto them by the daemon (one `VirtualServerSpec` per `virtual_server` block), so the checker does not
depend on the shape of the parser's model. Times are float seconds as written in keepalived.conf; the
pure state machines convert them to integer microseconds (`Timing`). `None` means "not set here",
so that the resolution order checker → real server → virtual server → built-in default (§1.12.5) can
be applied by `resolve_timing`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from pykeepalived.lvs.model import Forwarding, Protocol, ServiceKey
from pykeepalived.track.command import ScriptCommand

T = TypeVar("T")

SEC = 1_000_000


@dataclass(frozen=True, slots=True)
class ConnOpts:
    """Connection keywords common to every checker except MISC_CHECK and FILE_CHECK."""

    connect_ip: str | None = None
    connect_port: int | None = None
    bindto: str | None = None
    bind_port: int | None = None
    bind_if: str | None = None
    connect_timeout: float | None = None
    fwmark: int = 0  # SO_MARK on the checker's socket


@dataclass(frozen=True, slots=True, kw_only=True)
class TimingOpts:
    retry: int | None = None  # `retry` or deprecated `nb_get_retry`
    delay_before_retry: float | None = None
    warmup: float | None = None
    delay_loop: float | None = None
    alpha: bool | None = None
    connect_timeout: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSpec:
    kind: ClassVar[str] = "CHECK"
    conn: ConnOpts = ConnOpts()
    timing: TimingOpts = TimingOpts()
    log_all_failures: bool = False
    # built-in defaults that differ per checker type (keepalived.md §1.12.5)
    default_retry: ClassVar[int] = 1
    default_delay_before_retry: ClassVar[float | None] = 1.0  # None = delay_loop


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpCheckSpec(CheckSpec):
    kind: ClassVar[str] = "TCP_CHECK"


@dataclass(frozen=True, slots=True, kw_only=True)
class UrlSpec:
    path: str
    digest: str | None = None  # 32 lower-case hex chars, MD5 of the body
    status_codes: tuple[tuple[int, int], ...] = ()  # empty = 200-299
    virtualhost: str | None = None
    regex: str | None = None
    regex_no_match: bool = False
    regex_options: tuple[str, ...] = ()  # PCRE2 option names (check/probes/regex.py)
    regex_min_offset: int = 0
    regex_max_offset: int | None = None  # as configured: the last byte a match may start at
    tls_compliant: bool = False  # SSL_GET: send close_notify when closing

    def status_ok(self, code: int) -> bool:
        ranges = self.status_codes or ((200, 299),)
        return any(lo <= code <= hi for lo, hi in ranges)


@dataclass(frozen=True, slots=True, kw_only=True)
class SslOpts:
    """The global `SSL { }` block: client context for SSL_GET."""

    password: str | None = None
    ca: str | None = None
    certificate: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpCheckSpec(CheckSpec):
    kind: ClassVar[str] = "HTTP_GET"
    default_delay_before_retry: ClassVar[float | None] = 3.0
    urls: tuple[UrlSpec, ...]
    http_protocol: str = "1.0"  # 1.0 | 1.0C | 1.1
    virtualhost: str | None = None
    ssl: bool = False  # SSL_GET
    enable_sni: bool = False
    sni_name: str | None = None
    ssl_opts: SslOpts = SslOpts()
    tls_compliant: bool = False  # SSL_GET: send close_notify when closing (every url)
    fast_recovery: bool = False  # check the next url at once while the checker is down


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpCheckSpec(CheckSpec):
    kind: ClassVar[str] = "SMTP_CHECK"
    helo_name: str = "smtpchecker.keepalived.org"


@dataclass(frozen=True, slots=True, kw_only=True)
class MiscCheckSpec(CheckSpec):
    kind: ClassVar[str] = "MISC_CHECK"
    default_retry: ClassVar[int] = 0
    misc_path: str
    misc_timeout: float | None = None  # default = delay_loop
    misc_dynamic: bool = False
    user: str | None = None
    group: str | None = None
    # the command resolved by the daemon's script security checks (daemon/checker/check_scripts.py): run as
    # its uid/gid; None = split misc_path and run it as `user`/`group` (or as the daemon)
    command: ScriptCommand | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsCheckSpec(CheckSpec):
    kind: ClassVar[str] = "DNS_CHECK"
    default_retry: ClassVar[int] = 3
    default_delay_before_retry: ClassVar[float | None] = None
    type: str = "SOA"
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class UdpCheckSpec(CheckSpec):
    kind: ClassVar[str] = "UDP_CHECK"
    payload: bytes | None = None  # None = random
    require_reply: bool = False
    reply_pattern: str | None = None  # hex string, X/x nibble = wildcard
    min_reply_length: int = 0
    max_reply_length: int = 255


@dataclass(frozen=True, slots=True, kw_only=True)
class PingCheckSpec(CheckSpec):
    kind: ClassVar[str] = "PING_CHECK"


@dataclass(frozen=True, slots=True, kw_only=True)
class FileCheckSpec(CheckSpec):
    """FILE_CHECK: the real server follows a track_file (the daemon passes the file's path)."""

    kind: ClassVar[str] = "FILE_CHECK"
    track_file: str
    file_path: str
    weight: int = 0
    reverse: bool = False
    poll_interval: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class BfdCheckSpec(CheckSpec):
    """BFD_CHECK: the real server follows the BFD child's events for bfd_instance `name` (no probe)."""

    kind: ClassVar[str] = "BFD_CHECK"
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RealServerSpec:
    addr: str
    port: int
    weight: int = 1
    forwarding: Forwarding | None = None  # None = the VS's lb_kind
    inhibit_on_failure: bool | None = None  # None = the VS's setting
    notify_up: str | None = None
    notify_down: str | None = None
    u_threshold: int = 0
    l_threshold: int = 0
    virtualhost: str | None = None
    timing: TimingOpts = TimingOpts()
    checks: tuple[CheckSpec, ...] = ()
    smtp_alert: bool = False  # resolved (notify/checker_mail.py smtp_alert_flag)
    snmp_name: str | None = None  # KEEPALIVED-MIB realServerName


@dataclass(frozen=True, slots=True, kw_only=True)
class VirtualServerSpec:
    key: ServiceKey
    group: str | None = None  # virtual_server group NAME (key then holds the first entry)
    extra_keys: tuple[ServiceKey, ...] = ()  # the group's other entries, served with the same pool
    scheduler: str = "wlc"
    forwarding: Forwarding = Forwarding.NAT
    persistence_timeout: int = 0
    persistence_granularity: str | None = None
    persistence_engine: str | None = None
    flags: frozenset[str] = frozenset()
    quorum: int = 1
    hysteresis: int = 0
    quorum_up: str | None = None
    quorum_down: str | None = None
    sorry_server: RealServerSpec | None = None
    sorry_server_inhibit: bool = False
    inhibit_on_failure: bool = False
    alpha: bool = False
    omega: bool = False
    ha_suspend: bool = False
    virtualhost: str | None = None
    timing: TimingOpts = TimingOpts()
    real_servers: tuple[RealServerSpec, ...] = field(default_factory=tuple)
    smtp_alert: bool = False  # resolved (notify/checker_mail.py smtp_alert_flag)
    snmp_name: str | None = None  # KEEPALIVED-MIB virtualServerName
    default_weight: int = 1  # `weight` of the virtual server: its real servers' default

    @property
    def protocol(self) -> Protocol:
        return self.key.protocol

    @property
    def keys(self) -> tuple[ServiceKey, ...]:
        """Every service this virtual server programs (one per virtual_server_group entry)."""
        return (self.key, *self.extra_keys)

    def fmt(self) -> str:
        """keepalived's FMT_VS: `[IP]:proto:port`, `FWM N` or `[GROUP]:port`."""
        if self.group:
            return f"[{self.group}]:{self.key.port}"
        return str(self.key)


def fmt_addr(addr: str, proto: Protocol, port: int) -> str:
    """keepalived's inet_sockaddrtotrio: `[IP]:tcp:PORT`."""
    p = proto.value if proto is not Protocol.NONE else "tcp"
    return f"[{addr}]:{p}:{port}"


@dataclass(frozen=True, slots=True)
class Timing:
    """Resolved checker timing in integer microseconds (keepalived's TIMER_HZ)."""

    delay_loop: int
    connect_timeout: int
    retry: int
    delay_before_retry: int
    warmup: int
    alpha: bool


def resolve_timing(check: CheckSpec, rs: RealServerSpec, vs: VirtualServerSpec) -> Timing:
    """Checker → real server → virtual server → built-in default (keepalived.md §1.12.5)."""

    chain = (check.timing, rs.timing, vs.timing)
    delay_loop = _first(t.delay_loop for t in chain)
    dl = 60.0 if delay_loop is None else float(delay_loop)
    ct = check.conn.connect_timeout
    if ct is None:
        ct_o = _first(t.connect_timeout for t in chain)
        ct = 5.0 if ct_o is None else float(ct_o)
    retry = _first(t.retry for t in chain)
    dbr = _first(t.delay_before_retry for t in chain)
    if dbr is None:
        dbr = check.default_delay_before_retry if check.default_delay_before_retry is not None else dl
    warmup = _first(t.warmup for t in chain)
    alpha = _first(t.alpha for t in chain)
    if alpha is None:
        alpha = vs.alpha
    return Timing(
        delay_loop=max(1, round(dl * SEC)),
        connect_timeout=round(ct * SEC),
        retry=check.default_retry if retry is None else int(retry),
        delay_before_retry=round(float(dbr) * SEC),
        warmup=round((dl if warmup is None else float(warmup)) * SEC),
        alpha=bool(alpha),
    )


def _first(values: Iterable[T | None]) -> T | None:
    """The first value set, None if none is."""
    return next((v for v in values if v is not None), None)
