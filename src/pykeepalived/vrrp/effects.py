# Theory of operation
# -------------------
# The sans-I/O core never does anything itself: every input method of VrrpInstance / VrrpEngine
# returns a list of effects, in the exact order keepalived performs the corresponding actions
# (keepalived.md §1.11.2 "Order on becoming MASTER", §5.3), and the driver hands them to an executor
# (the Linux daemon or the simulator). Effects are immutable values; comparing effect lists is how
# the unit tests assert behaviour to the microsecond.
#
#   Transmit          send one advertisement (already built) to each destination in `dsts`
#   ClaimAddresses    add VIPs then eVIPs (and routes/rules/accept rules: the executor knows them)
#   ReleaseAddresses  remove them (rules → routes → VIPs/eVIPs → firewall, keepalived's order)
#   SendGratuitous    `repeat` rounds of GARP / unsolicited NA over `addresses` (VIPs then eVIPs)
#   StateChanged      the instance's state changed (the single chokepoint in instance.py emits it)
#   Notify            a keepalived notify event: scripts, FIFO line, SMTP (§4.2, §4.3)
#   Log               one log line with keepalived's text; level "detail" = only logged with -D
"""Effects returned by the VRRP core."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pykeepalived.vrrp.packet import Advertisement
from pykeepalived.vrrp.params import IPAddress


class State(enum.IntEnum):
    """keepalived's VRRP states (vrrp.h VRRP_STATE_*); STOP is used only on shutdown."""

    INIT = 0
    BACKUP = 1
    MASTER = 2
    FAULT = 3
    STOP = 98

    @property
    def word(self) -> str:
        """keepalived's word for the state, the one spelling every output uses: log lines, notify
        arguments and FIFO lines, the data dump, the control socket's events. Each user says which
        states it writes (a notify has no INIT, the dump writes STOP as `unknown`)."""
        return self.name


NOTIFIED_STATES = frozenset({State.BACKUP, State.MASTER, State.FAULT, State.STOP})
"""The states a notify (script, FIFO line, SMTP alert) reports; INIT has none (keepalived vrrp_notify.c)."""


class Reason(enum.Enum):
    """Why a transition happened (for traces, stats and the simulator's invariant checks)."""

    INIT = "init"
    MASTER_DOWN_TIMER = "master_down_timer"  # RFC 5798 §6.4.2 Master_Down_Timer fired
    OWNER_START = "owner_start"  # address owner wanting MASTER (1 µs down timer)
    HIGHER_PRIORITY = "higher_priority"  # MASTER saw a better advert (§6.4.3)
    FAULT = "fault"  # unweighted tracker / link / address failure
    FAULT_CLEARED = "fault_cleared"
    SYNC_GROUP = "sync_group"  # moved by its sync group
    SHUTDOWN = "shutdown"


class MasterReason(enum.IntEnum):
    """RFC 6527 vrrpv3StatisticsNewMasterReason, as keepalived 2.2.7 assigns it (vrrp_snmp.h): PRIORITY
    after a priority 0 advert, PREEMPTED after a lower priority advert or as the address owner,
    MASTER_NO_RESPONSE when adverts stopped."""

    NOT_MASTER = 0
    PRIORITY = 1
    PREEMPTED = 2
    MASTER_NO_RESPONSE = 3


class LogLevel(enum.Enum):
    INFO = "info"  # keepalived LOG_INFO, always logged
    DETAIL = "detail"  # keepalived LOG_INFO guarded by LOG_DETAIL_BIT (-D)
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Transmit:
    """Send `advert` from `src` (None: the interface's primary address) to every address in `dsts`."""

    instance: str
    advert: Advertisement
    src: IPAddress | None
    dsts: tuple[IPAddress, ...]
    ttl: int
    priority: int


@dataclass(frozen=True, slots=True)
class ClaimAddresses:
    instance: str
    vips: tuple[IPAddress, ...]
    evips: tuple[IPAddress, ...]


@dataclass(frozen=True, slots=True)
class ReleaseAddresses:
    instance: str
    vips: tuple[IPAddress, ...]
    evips: tuple[IPAddress, ...]
    # keepalived vrrp_init_state's vrrp_restore_interface: nothing is held yet, only its -D lines
    init: bool = False


class GarpReason(enum.Enum):
    MASTER = "master"  # burst on becoming MASTER (garp_master_repeat)
    MASTER_DELAY = "master_delay"  # second burst after garp_master_delay
    REFRESH = "refresh"  # garp_master_refresh
    LOWER_PRIO = "lower_prio"  # MASTER heard a lower priority advert (garp_lower_prio_repeat)
    LOWER_PRIO_DELAY = "lower_prio_delay"
    EXTRA_IF = "extra_if"  # garp_extra_if: one round on each extra interface (vrrp/garp_extra.py)
    UNICAST_SOURCE = "unicast_source"  # leaving FAULT on a unicast instance: own source address
    REQUEST = "request"  # asked for (DBus SendGarp): one round, keepalived vrrp_send_link_update(vrrp, 1)


@dataclass(frozen=True, slots=True)
class SendGratuitous:
    """`repeat` rounds, each one GARP (IPv4) / unsolicited NA (IPv6) per address, in order."""

    instance: str
    addresses: tuple[IPAddress, ...]
    repeat: int
    reason: GarpReason


@dataclass(frozen=True, slots=True)
class StateChanged:
    instance: str
    old: State
    new: State
    priority: int
    reason: Reason


@dataclass(frozen=True, slots=True)
class Notify:
    """A keepalived notification.

    `target` is "INSTANCE" or "GROUP"; `event` is MASTER, BACKUP, FAULT, STOP, DELETED,
    MASTER_RX_LOWER_PRI, MASTER_PRIORITY or BACKUP_PRIORITY. For state events the executor runs the
    state's notify_* script, then the generic `notify` script with `TARGET NAME STATE PRIO`, then
    writes the FIFO line; MASTER_RX_LOWER_PRI runs notify_master_rx_lower_pri and writes the FIFO
    line; the *_PRIORITY events only go to the FIFO.
    """

    target: str
    name: str
    event: str
    priority: int


@dataclass(frozen=True, slots=True)
class Log:
    level: LogLevel
    text: str


@dataclass(frozen=True, slots=True)
class MasterIntervalLowered:
    """A VRRPv3 master advertises a shorter interval than the one in use (keepalived
    update_master_adver_int): the interface's up/down debounce delays must stay under
    (down_timer_adverts - 1) x `interval_us` (keepalived check_debounce_timers)."""

    instance: str
    interval_us: int


# RFC 6527 vrrpv3StatisticsProtoErrReason of a rejected advert, by the counter it bumped
PROTO_ERR_REASONS = {"ip_ttl_err": 1, "vers_err": 2, "chk_err": 3}
# RFC 2787 vrrpTrapAuthErrorType of a rejected advert, by the counter it bumped
AUTH_ERRORS = {"invalid_authtype": 1, "authtype_mismatch": 2, "auth_failure": 3}


@dataclass(frozen=True, slots=True)
class RxRejected:
    """An advert rejected for a reason an SNMP trap reports (keepalived vrrp_check_packet sends
    vrrpTrapAuthFailure and vrrpv3ProtoError there): `counter` is the stats counter it bumped."""

    instance: str
    counter: str
    src: IPAddress


Effect = (Transmit | ClaimAddresses | ReleaseAddresses | SendGratuitous | StateChanged | Notify | Log
          | MasterIntervalLowered | RxRejected)
