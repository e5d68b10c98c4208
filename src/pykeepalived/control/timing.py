# Theory of operation
# -------------------
# The VRRP child's timing health, kept in plain integers so recording costs a few hundred
# nanoseconds on the hot path (no locks: everything runs on the child's event loop thread):
#
# * record_timer(scheduled_us, fired_us): the Driver's single timer fired `fired - scheduled` µs
#   after its deadline (the engine's advert / master-down deadline). Every firing goes into the
#   lateness histogram; a firing later than LATE_US counts as a "late timer event" (keepalived has
#   no such counter: a late advert timer is what makes a backup pre-empt a healthy master).
# * record_advert(instance, sent_us, interval_us): an advertisement left at `sent_us`; the gap to the
#   previous advert of the same instance minus its advert interval is the send jitter (RFC 5798
#   §6.4.3 sends one advert every Advertisement_Interval while MASTER). Gaps longer than twice the
#   interval mean the instance stopped being master in between and are not jitter.
#
# The Prometheus collector (metrics.py) turns the counts into histograms at scrape time.
"""Timer lateness and advert send jitter statistics (fed by the VRRP child)."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

LATE_US = 10_000
"""A timer firing more than 10 ms after its deadline is a late timer event."""

BUCKETS_US: tuple[int, ...] = (
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
)
"""Histogram upper bounds (µs) for both timer lateness and advert send jitter."""


@dataclass(slots=True)
class Histogram:
    """Counts per bucket (non-cumulative, last slot = +Inf), observation count and sum (µs)."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_US) + 1))
    count: int = 0
    sum_us: int = 0

    def observe(self, value_us: int) -> None:
        self.counts[bisect_left(BUCKETS_US, value_us)] += 1
        self.count += 1
        self.sum_us += value_us

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus buckets: (upper bound in seconds as text, cumulative count), ending with +Inf."""
        out: list[tuple[str, int]] = []
        acc = 0
        for bound, n in zip((*BUCKETS_US, None), self.counts, strict=True):
            acc += n
            out.append(("+Inf" if bound is None else repr(bound / 1_000_000), acc))
        return out


@dataclass(slots=True)
class TimingStats:
    """What the VRRP child measured about its own timeliness."""

    late_threshold_us: int = LATE_US
    timer_lateness: Histogram = field(default_factory=Histogram)
    late_timer_events: int = 0
    max_lateness_us: int = 0
    advert_jitter: Histogram = field(default_factory=Histogram)
    _last_advert: dict[str, int] = field(default_factory=dict)

    def record_timer(self, scheduled_us: int, fired_us: int) -> None:
        late = max(0, fired_us - scheduled_us)
        self.timer_lateness.observe(late)
        if late > self.late_threshold_us:
            self.late_timer_events += 1
        if late > self.max_lateness_us:
            self.max_lateness_us = late

    def record_advert(self, instance: str, sent_us: int, interval_us: int) -> None:
        prev = self._last_advert.get(instance)
        self._last_advert[instance] = sent_us
        if prev is None or interval_us <= 0:
            return
        gap = sent_us - prev
        if 0 <= gap <= 2 * interval_us:
            self.advert_jitter.observe(abs(gap - interval_us))

    def forget(self, instance: str) -> None:
        """The instance stopped sending (left MASTER): the next advert starts a new series."""
        self._last_advert.pop(instance, None)
