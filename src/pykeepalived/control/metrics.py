# Theory of operation
# -------------------
# keepalived users scrape metrics with an external exporter that signals keepalived and parses the
# files it writes (keepalived.data / .stats / .json), which races with the writer (landscape.md §5).
# pykeepalived serves them itself: `pykeepalived_metrics_address` in global_defs starts a tiny
# HTTP server on the VRRP child's event loop, and the collectors below run *on that loop*, reading
# the live engine between two events — a consistent snapshot without locks or files — at most once
# a second, whatever the number of scrapers (MetricsServer; listener.py bounds the connections).
#
# Names and labels are those of the widely used mehdy/keepalived-exporter, so existing dashboards
# and alerts keep working:
#   keepalived_up                                 1 (the daemon answers)
#   keepalived_vrrp_state{iname,intf,vrid,ip_address}           one series per VIP (0 INIT,
#   keepalived_vrrp_excluded_state{iname,intf,vrid,ip_address}  1 BACKUP, 2 MASTER, 3 FAULT)
#   keepalived_<counter>_total{iname,intf,vrid}   keepalived's per-instance stats counters
#   keepalived_gratuitous_arp_delay_total{...}    garp_master_delay (the exporter's name)
#   keepalived_script_status{name}                vrrp_script result: 1 GOOD, 0 BAD
# plus pykeepalived's own (prefix pykeepalived_): priorities, last transition time, unknown VRIDs,
# the bgp_announce addresses announced now (pykeepalived_bgp_announced{iname,address,anchor}) and the
# announcements/withdrawals made (pykeepalived_bgp_announcements_total),
# timer lateness / late timer events and the advert send jitter histogram (timing.py), and the
# checker's virtual/real server states (CheckerCollector), which the checker child serves on its own
# listener: the same address, port + 1 (checker_listen_address; 127.0.0.1:9651 by default), since
# each child process reads only its own live state. The checker's listener also carries the LVS
# traffic counters with gen2brain/keepalived_exporter's names and labels (the counters untouched:
# no `_total` appended, `addr` is "IP:PORT" as that exporter prints it, `proto` the IP protocol
# number):
#   keepalived_lvs_vip_{in_packets,out_packets,in_bytes,out_bytes,conn}{addr,proto}  per service
#   keepalived_lvs_rs_{in_packets,out_packets,in_bytes,out_bytes,conn}{addr,proto}   per destination
# A destination serving several services is summed into one series (the exporter would fail the
# whole scrape on the duplicate). The counters come from the data plane's `stats()` (async: a netlink
# or nft round trip), cached by LvsStatsCache and refreshed before a scrape with a time bound.
"""Prometheus collectors computed at scrape time, and the asyncio HTTP endpoint serving them."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from pykeepalived import KEEPALIVED_COMPAT, __version__
from pykeepalived.control.endpoint import checker_listen_address, listen_address, url
from pykeepalived.control.listener import Listener, listen
from pykeepalived.control.timing import Histogram, TimingStats
from pykeepalived.logs import log
from pykeepalived.vrrp.effects import State

if TYPE_CHECKING:
    from pykeepalived.check.scheduler import CheckerRuntime
    from pykeepalived.control.view import VrrpView
    from pykeepalived.lvs.model import LvsCounters, LvsStats
    from pykeepalived.vrrp.instance import VrrpInstance

__all__ = ["CheckerCollector", "MetricsServer", "VrrpCollector", "checker_listen_address", "listen_address",
           "make_registry", "render"]

COMMON = ["iname", "intf", "vrid"]
VIP_LABELS = [*COMMON, "ip_address"]

# keepalived stats counter -> (exporter metric name without _total, help)
COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("advert_rcvd", "keepalived_advertisements_received", "Advertisements received"),
    ("advert_sent", "keepalived_advertisements_sent", "Advertisements sent"),
    ("become_master", "keepalived_become_master", "Became master"),
    ("release_master", "keepalived_release_master", "Released master"),
    ("packet_len_err", "keepalived_packet_length_errors", "Packet length errors"),
    ("advert_interval_err", "keepalived_advertisements_interval_errors", "Advertisement interval errors"),
    ("ip_ttl_err", "keepalived_ip_ttl_errors", "TTL errors"),
    ("invalid_type_rcvd", "keepalived_invalid_type_received", "Invalid type errors"),
    ("addr_list_err", "keepalived_address_list_errors", "Address list errors"),
    ("invalid_authtype", "keepalived_authentication_invalid", "Authentication invalid"),
    ("authtype_mismatch", "keepalived_authentication_mismatch", "Authentication mismatch"),
    ("auth_failure", "keepalived_authentication_failure", "Authentication failure"),
    ("pri_zero_rcvd", "keepalived_priority_zero_received", "Priority zero received"),
    ("pri_zero_sent", "keepalived_priority_zero_sent", "Priority zero sent"),
)


def state_value(state: State) -> int:
    """keepalived's numeric state (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT); STOP reads as INIT."""
    return 0 if state == State.STOP else int(state)


def _histogram(name: str, doc: str, h: Histogram) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, doc, buckets=h.cumulative(), sum_value=h.sum_us / 1_000_000)


class BgpSource(Protocol):
    """What the metrics and the control socket read of bgp_announce (daemon/vrrp/bgp.py BgpAnnouncer)."""

    transitions: int

    def announced(self) -> list[tuple[str, str, str]]: ...  # (instance, address, anchor)

    def view(self) -> Mapping[str, Any]: ...  # instance -> its state (a dataclass), the `bgp` command


class VrrpCollector(Collector):
    """Reads the VRRP child's live instances at scrape time (call only from the child's loop)."""

    def __init__(self, view: VrrpView, timing: TimingStats | None = None,
                 bgp: Callable[[], BgpSource | None] = lambda: None) -> None:
        self.view = view
        self.timing = timing
        self.bgp = bgp

    def _vips(self, inst: VrrpInstance, excluded: bool) -> list[tuple[str, str]]:
        """(ip_address "addr/prefix", intf) per VIP, as the exporter reads them from keepalived.data."""
        return [(f"{a}/{plen}", dev) for a, plen, dev in self.view.addresses(inst.name, excluded)]

    def collect(self) -> Iterator[Metric]:
        insts = list(self.view.instances().values())
        up = GaugeMetricFamily("keepalived_up", "Status")
        up.add_metric([], 1)
        yield up
        info = GaugeMetricFamily("pykeepalived_build_info", "pykeepalived version",
                                 labels=["version", "keepalived_compat"])
        info.add_metric([__version__, KEEPALIVED_COMPAT], 1)
        yield info

        state = GaugeMetricFamily("keepalived_vrrp_state", "State of vrrp", labels=VIP_LABELS)
        excl = GaugeMetricFamily("keepalived_vrrp_excluded_state", "State of vrrp with excluded VIP",
                                 labels=VIP_LABELS)
        counters = {k: CounterMetricFamily(n, h, labels=COMMON) for k, n, h in COUNTERS}
        garp = CounterMetricFamily("keepalived_gratuitous_arp_delay", "Gratuitous ARP delay", labels=COMMON)
        eff = GaugeMetricFamily("pykeepalived_vrrp_effective_priority", "Effective priority", labels=COMMON)
        base = GaugeMetricFamily("pykeepalived_vrrp_base_priority", "Configured priority", labels=COMMON)
        mprio = GaugeMetricFamily("pykeepalived_vrrp_master_priority",
                                  "Priority of the current master as last heard", labels=COMMON)
        wanted = GaugeMetricFamily("pykeepalived_vrrp_wanted_state", "Wanted state", labels=COMMON)
        trans = GaugeMetricFamily("pykeepalived_vrrp_last_transition_timestamp_seconds",
                                  "Wall-clock time of the last state transition", labels=COMMON)
        scripts: dict[str, bool] = {}
        for inst in insts:
            lab = [inst.name, self.view.interface(inst.name), str(inst.params.vrid)]
            st = state_value(inst.state)
            vips = self._vips(inst, False)
            for ip, intf in vips:
                state.add_metric([inst.name, intf, lab[2], ip], st)
            if not vips:
                state.add_metric([*lab, ""], st)
            for ip, intf in self._vips(inst, True):
                excl.add_metric([inst.name, intf, lab[2], ip], st)
            for key, fam in counters.items():
                fam.add_metric(lab, inst.stats.get(key, 0))
            garp.add_metric(lab, inst.params.garp_master_delay_us // 1_000_000)
            eff.add_metric(lab, inst.effective_priority)
            base.add_metric(lab, inst.params.base_priority)
            mprio.add_metric(lab, inst.master_priority)
            wanted.add_metric(lab, state_value(inst.wantstate))
            trans.add_metric(lab, self.view.last_transition(inst.name))
            for (kind, name), value in inst.tracking.values.items():
                if kind == "script" and value is not None:
                    scripts[name] = bool(value)
        yield state
        yield excl
        yield from counters.values()
        yield garp
        yield eff
        yield base
        yield mprio
        yield wanted
        yield trans
        sfam = GaugeMetricFamily("keepalived_script_status", "Tracker Script Status", labels=["name"])
        for name, ok in sorted(scripts.items()):
            sfam.add_metric([name], 1 if ok else 0)
        yield sfam
        yield from self._bgp()
        unknown = CounterMetricFamily("pykeepalived_unknown_vrid_received",
                                      "Adverts received for a VRID no instance uses")
        unknown.add_metric([], self.view.unknown_vrid_rcvd())
        yield unknown
        t = self.timing
        if t is not None:
            late = CounterMetricFamily("pykeepalived_late_timer_events",
                                       f"VRRP timer firings more than {t.late_threshold_us / 1000:g} ms late")
            late.add_metric([], t.late_timer_events)
            yield late
            mx = GaugeMetricFamily("pykeepalived_timer_lateness_max_seconds",
                                   "Worst VRRP timer lateness seen")
            mx.add_metric([], t.max_lateness_us / 1_000_000)
            yield mx
            yield _histogram("pykeepalived_timer_lateness_seconds",
                             "How late the VRRP timer fired after its deadline", t.timer_lateness)
            yield _histogram("pykeepalived_advert_send_jitter_seconds",
                             "Gap between consecutive adverts of a MASTER minus its advert interval",
                             t.advert_jitter)


    def _bgp(self) -> Iterator[Metric]:
        """bgp_announce (docs/bgp.md): 1 per address announced now, and the changes made."""
        bgp = self.bgp()
        if bgp is None:
            return
        ann = GaugeMetricFamily("pykeepalived_bgp_announced", "Address announced through the local FRR "
                                "(1) by an instance, on its anchor", labels=["iname", "address", "anchor"])
        for labels in bgp.announced():  # only while announced: withdrawn instances have none
            ann.add_metric(list(labels), 1)
        yield ann
        total = CounterMetricFamily("pykeepalived_bgp_announcements",
                                    "Announcements and withdrawals made by bgp_announce")
        total.add_metric([], bgp.transitions)
        yield total


# gen2brain/keepalived_exporter's LVS series: (LvsStats field, name suffix, help suffix)
LVS_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("inpkts", "in_packets", "in packets"),
    ("outpkts", "out_packets", "out packets"),
    ("inbytes", "in_bytes", "in bytes"),
    ("outbytes", "out_bytes", "out bytes"),
    ("conns", "conn", "connections"),
)
LVS_LABELS = ["addr", "proto"]
IPPROTO = {"tcp": "6", "udp": "17", "sctp": "132", "none": "0"}
LVS_NAMES = tuple(f"keepalived_lvs_{w}_{n}" for w in ("vip", "rs") for _, n, _ in LVS_COUNTERS)


def lvs_addr(addr: str | None, port: int, fwmark: int = 0) -> str:
    """The exporter's `addr` label: IP and port joined by a colon (IPv6 unbracketed, as Go prints it);
    `FWM N` for a fwmark service."""
    return f"FWM {fwmark}" if fwmark else f"{addr}:{port}"


class _Aggregate:
    """The exporter's series computed from one immutable counters snapshot, once, when first needed."""

    def __init__(self, counters: LvsCounters) -> None:
        self.counters = counters
        self._series: dict[str, dict[tuple[str, str], list[LvsStats]]] | None = None

    def series(self, who: str) -> dict[tuple[str, str], list[LvsStats]]:
        if self._series is None:
            vip: dict[tuple[str, str], list[LvsStats]] = {}
            rs: dict[tuple[str, str], list[LvsStats]] = {}
            for key, st in self.counters.items():
                proto = IPPROTO[key.protocol.value]
                vip[(lvs_addr(key.addr, key.port, key.fwmark), proto)] = [st.total]
                for dk, ds in st.dests.items():
                    rs.setdefault((lvs_addr(dk.addr, dk.port), proto), []).append(ds)
            self._series = {"vip": vip, "rs": rs}
        return self._series[who]


class _LazyCounter(Metric):
    """A counter family whose samples are computed on first read: CheckerCollector runs on the event
    loop, the exposition in a worker thread (MetricsServer), so the per-destination work is done there."""

    def __init__(self, name: str, doc: str, agg: _Aggregate, who: str, field: str) -> None:
        self._lazy: tuple[_Aggregate, str, str] | None = (agg, who, field)
        self._samples: list[Sample] = []
        super().__init__(name, doc, "counter")

    @property
    def samples(self) -> list[Sample]:
        if self._lazy is not None:
            agg, who, field = self._lazy
            self._lazy = None
            self._samples = [Sample(self.name, {"addr": addr, "proto": proto},
                                    sum(getattr(s, field) for s in stats))
                             for (addr, proto), stats in sorted(agg.series(who).items())]
        return self._samples

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        if value:
            self._lazy = None
        self._samples = value


def lvs_families(counters: LvsCounters) -> list[Metric]:
    """keepalived_lvs_vip_* per service and keepalived_lvs_rs_* per destination (summed across services),
    built lazily (see _LazyCounter)."""
    agg = _Aggregate(counters)
    return [_LazyCounter(f"keepalived_lvs_{who}_{suffix}", f"{what} {doc}", agg, who, field)
            for who, what in (("vip", "VIP"), ("rs", "RS")) for field, suffix, doc in LVS_COUNTERS]


def render(registry: Any) -> bytes:
    """generate_latest, with the exporter's LVS counters typed under their own names (prometheus_client
    would announce them as NAME_total, which Go's client does not do for these series)."""
    text = generate_latest(registry)
    if b"keepalived_lvs_" in text:
        for name in LVS_NAMES:
            n = name.encode()
            text = text.replace(b"# HELP " + n + b"_total ", b"# HELP " + n + b" ")
            text = text.replace(b"# TYPE " + n + b"_total ", b"# TYPE " + n + b" ")
    return text


class CheckerCollector(Collector):
    """Virtual and real server states of a CheckerRuntime (for the checker child's loop), and the data
    plane's traffic counters as last read (`counters`: the cache's current value)."""

    def __init__(self, runtime: CheckerRuntime,
                 counters: Callable[[], LvsCounters] | None = None) -> None:
        self.runtime = runtime
        self.counters = counters

    def collect(self) -> Iterator[Metric]:
        quorum = GaugeMetricFamily("pykeepalived_virtual_server_quorum_up",
                                   "1 while the virtual server has quorum", labels=["virtual_server"])
        weight_sum = GaugeMetricFamily("pykeepalived_virtual_server_alive_weight",
                                       "Sum of the weights of alive real servers", labels=["virtual_server"])
        rs_up = GaugeMetricFamily("pykeepalived_real_server_up", "1 while the real server is alive",
                                  labels=["virtual_server", "real_server"])
        rs_w = GaugeMetricFamily("pykeepalived_real_server_weight", "Effective weight of the real server",
                                 labels=["virtual_server", "real_server"])
        for vs in self.runtime.states:
            quorum.add_metric([vs.fmt], 1 if vs.quorum_up else 0)
            weight_sum.add_metric([vs.fmt], vs.weight_sum())
            for rs in vs.rs:
                rs_up.add_metric([vs.fmt, rs.fmt], 1 if rs.alive else 0)
                rs_w.add_metric([vs.fmt, rs.fmt], rs.weight)
        yield quorum
        yield weight_sum
        yield rs_up
        yield rs_w
        if self.counters is not None:
            yield from lvs_families(self.counters())


def make_registry(*collectors: Collector, process: bool = True) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    for c in collectors:
        registry.register(c)
    if process:
        ProcessCollector(registry=registry)
    return registry


MAX_REQUEST = 8192  # the request head, in bytes (431 beyond)
READ_TIMEOUT = 5.0  # for the request head to arrive
WRITE_TIMEOUT = 10.0  # for the client to read the reply
MAX_CLIENTS = 64  # served at once; one more is answered 503 and closed
RENDER_INTERVAL = 1.0  # at most one rendering per interval; scrapes in between share its text
BUSY = (b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: 5\r\nRetry-After: 1\r\nConnection: close\r\n\r\nbusy\n")


class Snapshot:
    """Metric families already collected: formatting them needs nothing from the engine any more."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> list[Metric]:
        return self.metrics


def snapshot(registry: CollectorRegistry) -> Snapshot:
    """Run the collectors now (on the event loop: a consistent view of the engine)."""
    return Snapshot(list(registry.collect()))


class MetricsServer:
    """A minimal HTTP/1.0 server for GET /metrics on the running asyncio loop.

    The collectors run on the loop, between two event loop callbacks, so they see the engine in a
    consistent state; that snapshot is then formatted as text in a worker thread (about 4/5 of the
    cost). One rendering at a time and at most one per `interval`: scrapes that arrive meanwhile get
    the same text, so the loop's share of the work does not grow with the number of scrapers.
    Connections are accepted by a Listener (listener.py: at most MAX_CLIENTS at once, then 503); a
    client has READ_TIMEOUT to send its request head (MAX_REQUEST bytes) and WRITE_TIMEOUT to read
    the reply.
    """

    def __init__(self, registry: CollectorRegistry, host: str, port: int,
                 render: Callable[[Any], bytes] = render,
                 prepare: Callable[[], Awaitable[None]] | None = None,
                 interval: float = RENDER_INTERVAL) -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self.render = render
        self.prepare = prepare  # awaited before collecting (bounded by its owner)
        self.interval = interval
        self.listener: Listener | None = None
        self.scrapes = 0
        self.renders = 0
        self._body: bytes | None = None
        self._rendered_at = 0.0
        self._rendering: asyncio.Task[bytes | None] | None = None

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((self.host, self.port))
            listen(sock)
        except OSError:
            sock.close()
            raise
        self.port = int(sock.getsockname()[1])
        where = url((self.host, self.port))
        self.listener = Listener(sock, self._handle, name=f"Metrics endpoint {where}",
                                 max_clients=MAX_CLIENTS, reject=BUSY)
        log.info("Prometheus metrics on %s", where)

    async def metrics(self) -> bytes | None:
        """The exposition text: the last one if rendered less than `interval` ago, else a new one
        (shared by every scrape waiting for it). None if rendering failed (logged)."""
        if self._body is not None and time.monotonic() - self._rendered_at < self.interval:
            return self._body
        if self._rendering is None:
            self._rendering = asyncio.get_running_loop().create_task(self._render())
        return await asyncio.shield(self._rendering)

    async def _render(self) -> bytes | None:
        started = time.monotonic()
        try:
            if self.prepare is not None:
                await self.prepare()
            snap = snapshot(self.registry)
            body = await asyncio.get_running_loop().run_in_executor(None, self.render, snap)
        except Exception as exc:  # a broken collector must never disturb the VRRP child
            log.error("metrics rendering failed: %r", exc)
            return None
        finally:
            self._rendering = None
        self.renders += 1
        self._body, self._rendered_at = body, started
        return body

    @staticmethod
    async def _head(conn: socket.socket) -> bytes | None:
        """The request head (through the blank line); b"" if the client closed first, None if it
        is longer than MAX_REQUEST."""
        loop = asyncio.get_running_loop()
        buf = b""
        while b"\r\n\r\n" not in buf:
            if len(buf) > MAX_REQUEST:
                return None
            chunk = await loop.sock_recv(conn, 4096)
            if not chunk:
                return b""
            buf += chunk
        return buf

    async def _handle(self, conn: socket.socket) -> None:
        """One request on a connection (plain socket calls, no transport: see listener.py)."""
        head = await asyncio.wait_for(self._head(conn), READ_TIMEOUT)
        if head is None:
            await self._reply(conn, 431, b"request too large\n")
            return
        if not head:
            return
        parts = head.split(b"\r\n", 1)[0].split()
        if len(parts) != 3:
            await self._reply(conn, 400, b"bad request\n")
            return
        method, target = parts[0], parts[1].split(b"?", 1)[0]
        if method not in (b"GET", b"HEAD"):
            await self._reply(conn, 405, b"method not allowed\n")
            return
        head_only = method == b"HEAD"
        if target == b"/metrics":
            self.scrapes += 1
            body = await self.metrics()
            if body is None:
                await self._reply(conn, 500, b"metrics unavailable\n", head_only=head_only)
            else:
                await self._reply(conn, 200, body, CONTENT_TYPE_LATEST, head_only=head_only)
        elif target == b"/":
            await self._reply(conn, 200, b'<html><body><a href="/metrics">Metrics</a></body></html>\n',
                              "text/html; charset=utf-8", head_only=head_only)
        else:
            await self._reply(conn, 404, b"not found\n")

    @staticmethod
    async def _reply(conn: socket.socket, code: int, body: bytes,
                     ctype: str = "text/plain; charset=utf-8", head_only: bool = False) -> None:
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
                  431: "Request Header Fields Too Large", 500: "Internal Server Error"}[code]
        hdr = (f"HTTP/1.0 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
               "Connection: close\r\n\r\n").encode()
        data = hdr if head_only else hdr + body
        await asyncio.wait_for(asyncio.get_running_loop().sock_sendall(conn, data), WRITE_TIMEOUT)

    async def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
