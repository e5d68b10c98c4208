# Theory of operation
# -------------------
# keepalived's VRRP timer arithmetic, bit for bit. Every value is an integer number of microseconds
# (keepalived's TIMER_HZ = 1_000_000); there is no float anywhere, so two implementations that feed
# the same inputs get the same deadlines to the microsecond.
#
# * Skew_Time (RFC 3768 §6.1 for v2, RFC 5798 §6.1 for v3), computed as keepalived's
#   VRRP_TIMER_SKEW_CALC macro does:
#     v2: (256 - prio) * 1_000_000 / 256                      (always the 1-second base)
#     v3: (256 - prio) * (Master_Adver_Interval / 10_000) * 625 / 16
#   (625/16 = 1_000_000 / 256 / 100: the interval is taken in centiseconds before scaling).
# * Master_Down_Interval = down_timer_adverts * Master_Adver_Interval + Skew_Time
#   (RFC: 3 * interval + skew; keepalived makes the 3 configurable).
# * The minimum skew (priority 255 in the formula, i.e. pri_val 1) is used when a sync-group member
#   that wants MASTER starts while its group is BACKUP (keepalived: vrrp_init_state).
"""Skew time and master down interval, keepalived-exact (integer microseconds)."""

from __future__ import annotations

SEC = 1_000_000
"""keepalived TIMER_HZ."""
CSEC = 10_000
"""keepalived TIMER_CENTI_HZ: one VRRPv3 wire unit."""
MSEC = 1_000


def skew_calc(version: int, pri_val: int, master_adver_int_us: int) -> int:
    """keepalived: vrrp.h VRRP_TIMER_SKEW_CALC(svr, pri_val)."""
    if version == 3:
        return pri_val * (master_adver_int_us // CSEC) * 625 // 16
    return pri_val * SEC // 256


def skew_time(version: int, priority: int, master_adver_int_us: int) -> int:
    """RFC 3768 §6.1 / RFC 5798 §6.1 Skew_Time for the given effective priority, in µs."""
    return skew_calc(version, 256 - priority, master_adver_int_us)


def skew_time_min(version: int, master_adver_int_us: int) -> int:
    """keepalived: VRRP_TIMER_SKEW_MIN (the skew of a priority-255 router)."""
    return skew_calc(version, 1, master_adver_int_us)


def master_down_interval(
    version: int, priority: int, master_adver_int_us: int, down_timer_adverts: int = 3
) -> int:
    """keepalived: VRRP_MS_DOWN_TIMER = down_timer_adverts * Master_Adver_Interval + Skew_Time."""
    return down_timer_adverts * master_adver_int_us + skew_time(version, priority, master_adver_int_us)


def format_seconds(us: int) -> str:
    """keepalived's `%lu.%6.6lu` rendering of a microsecond value."""
    return f"{us // SEC}.{us % SEC:06d}"
