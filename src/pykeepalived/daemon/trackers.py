"""Trackers and notifies of the VRRP child, built from the configuration model.

vrrp_script results and tracked interfaces become `driver.set_tracker(kind, name, value)` calls;
the core's Notify effects become notify scripts, FIFO lines and mail through notify.Notifier.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import pwd
import socket
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from pykeepalived.config.command_words import CommandSyntaxError, resolve_user_group, split_quoted_escaped
from pykeepalived.config.model import Model, NotifyScript, Script, Track
from pykeepalived.config.to_params import track_group_interfaces
from pykeepalived.notify.fifo import FifoSet, FifoSpec
from pykeepalived.notify.scripts import Notifier, NotifyScripts
from pykeepalived.notify.smtp import SmtpAlerter, SmtpSettings, parse_smtp_server
from pykeepalived.track.command import (
    ScriptCommand,
)
from pykeepalived.track.file import FileTrackers, TrackedFile, TrackFileSpec, init_track_file
from pykeepalived.track.process import (
    QUORUM_MAX_UNLIMITED,
    ParamMatch,
    ProcessSpec,
    ProcessTracker,
    TrackedProcess,
)
from pykeepalived.track.script import ScriptSpec, ScriptTracker, ScriptTrackers, script_reload_lines
from pykeepalived.track.security import (
    ScriptFlags,
    ScriptUser,
    SecurityResult,
    check_script_secure,
    check_track_script_secure,
    default_script_user,
    security_violation_message,
)
from pykeepalived.vrrp.effects import Notify
from pykeepalived.vrrp.params import TrackWeight

if TYPE_CHECKING:
    from pykeepalived.vrrp.instance import VrrpInstance

log = logging.getLogger("pykeepalived")

SetTracker = Callable[[str, str, bool | int | None], None]


class ScriptResolver:
    """Turns configured script lines into runnable commands, with keepalived's security checks."""

    def __init__(self, model: Model, report: Callable[[str], None] | None = None) -> None:
        g = model.global_defs
        self.report = report or log.error
        self.flags = ScriptFlags.NONE  # every checked script's flags (the SECURITY VIOLATION line)
        self.security = g.enable_script_security
        self._user = g.script_user[0] if g.script_user else None
        self._group = g.script_user[1] if len(g.script_user) > 1 else None
        self._default: ScriptUser | None = None
        self.keep_symlinks = bool(g.use_symlink_paths)  # keepalived 2.3+
        self.set_supplementary_groups = bool(g.set_supplementary_groups)

    @property
    def default(self) -> ScriptUser:
        """Resolved on first use, so configurations without scripts log nothing about the user."""
        if self._default is None:
            self._default = default_script_user(self._user, self._group, self.security, self.report)
        return self._default

    def _ids(self, user: str | None, group: str | None) -> tuple[int, int] | None:
        if not user:
            return (self.default.uid, self.default.gid) if self.default.ok else None
        try:
            return resolve_user_group(user, group or None)
        except LookupError as exc:
            self.report(str(exc))
            return None

    def notify_command(self, script: Script) -> ScriptCommand | None:
        res = self.secure(script)
        return None if res is None else res.command

    def secure(self, script: Script) -> SecurityResult | None:
        """keepalived's check_script_secure for a (command, user, group) script; None when the
        line cannot be parsed or its user resolved (logged)."""
        cmd, user, group = script
        argv = self._argv(cmd)
        ids = self._ids(user, group)
        if not argv or ids is None:
            return None
        res = check_script_secure(argv, ids[0], ids[1], self.security, self.report, self.keep_symlinks)
        res.command = self._groups(res.command)
        self.flags |= res.flags
        return res

    def _argv(self, cmd: str) -> list[str] | None:
        try:
            return split_quoted_escaped(cmd)
        except CommandSyntaxError as exc:
            self.report(f"Unable to parse script '{cmd}': {exc}")
            return None

    def violation(self, kind: str = "", *more: Script | None) -> str | None:
        """keepalived's "SECURITY VIOLATION - {kind}scripts are being executed ..." line for the
        scripts checked so far and `more` (checked here without a line of their own), if due."""
        flags = self.flags
        if more:
            quiet = copy.copy(self)  # the same run-as user, already resolved
            quiet.report, quiet.flags = (lambda _msg: None), ScriptFlags.NONE
            for script in more:
                if script is not None and script[0]:
                    quiet.secure(script)
            flags |= quiet.flags
        return security_violation_message(flags, self.security, kind)

    def _groups(self, cmd: ScriptCommand | None) -> ScriptCommand | None:
        """set_supplementary_groups: the run-as user's groups (getgrouplist), not just its gid."""
        if cmd is None or not self.set_supplementary_groups or cmd.uid is None or cmd.gid is None:
            return cmd
        try:
            pw = pwd.getpwuid(cmd.uid)
            groups = os.getgrouplist(pw.pw_name, pw.pw_gid)
        except (KeyError, OSError):
            log.info("get supplementary groups for %d returned -1", cmd.uid)
            return cmd
        return dataclasses.replace(cmd, groups=tuple(dict.fromkeys([cmd.gid, *groups])))

    def track(self, name: str, script: Script, user: tuple[str, ...]) -> SecurityResult | None:
        """keepalived check_track_script_secure for one vrrp_script (its "Disabling track script"
        lines included); None when the line cannot be parsed or its user resolved."""
        argv = self._argv(script[0])
        ids = self._ids(user[0] if user else None, user[1] if len(user) > 1 else None)
        if not argv or ids is None:
            return None
        res = check_track_script_secure(name, argv, ids[0], ids[1], self.security, self.report,
                                        self.keep_symlinks)
        res.command = self._groups(res.command)
        self.flags |= res.flags
        return res


@dataclasses.dataclass(slots=True)
class VrrpScripts:
    """The VRRP child's scripts once checked (keepalived vrrp.c check_vrrp_script_security)."""

    model: Model  # without the disabled vrrp_scripts, nor the instances' and groups' tracks on them
    commands: dict[str, ScriptCommand]  # the runnable vrrp_scripts
    disabled: dict[str, ScriptFlags]  # vrrp_script name -> why it was disabled
    notify: dict[tuple[str, str], NotifyScripts]
    fifos: FifoSet | None
    flags: ScriptFlags  # all the flags seen
    violation: str | None  # the SECURITY VIOLATION line, if any

    def _used(self) -> set[str]:
        model = self.model
        used = {t.name for i in model.vrrp_instances for t in i.tracks if t.kind == "script"}
        return used | {t.name for g in model.sync_groups for t in g.tracks if t.kind == "script"}

    def log_unused(self) -> None:
        """keepalived vrrp_complete_init's last lines: "Warning - script X is not used" for each
        vrrp_script no instance or sync group tracks (before the instances' first lines)."""
        used = self._used()
        for s in self.model.vrrp_scripts:
            if s.name not in used:
                log.info("Warning - script %s is not used", s.name)

    def tracker(self, set_tracker: SetTracker) -> ScriptTrackers:
        """One runner per vrrp_script still used by an instance or a sync group; results go to
        `set_tracker` as they change."""
        used = self._used()
        specs = []
        for s in self.model.vrrp_scripts:
            if s.name not in used:
                continue
            specs.append(ScriptSpec(s.name, self.commands[s.name], s.interval_us, s.timeout_us or 0,
                                    s.rise, s.fall, s.init_fail))

        def changed(tr: ScriptTracker, ok: bool | None) -> None:
            set_tracker("script", tr.name, ok)

        return ScriptTrackers(specs, changed)


def check_vrrp_scripts(model: Model, resolver: ScriptResolver,
                       reloading: ScriptTrackers | None = None) -> VrrpScripts:
    """Every vrrp_script, then the instances' and sync groups' notify scripts and the FIFO scripts,
    checked in keepalived's order (at a reload, after clear_diff_script's lines for the running
    `reloading` scripts); the SECURITY VIOLATION line is returned, not logged. A vrrp_script that
    is insecure with enable_script_security, not found, or not executable by its user is disabled:
    keepalived frees it and removes it from every instance and sync group tracking it, so they run
    as if it had never been configured."""
    for line in script_reload_lines(reloading, {s.name for s in model.vrrp_scripts}):
        log.info("%s", line)
    commands: dict[str, ScriptCommand] = {}
    disabled: dict[str, ScriptFlags] = {}
    for s in model.vrrp_scripts:
        if s.script is None:
            continue
        res = resolver.track(s.name, s.script, s.user)
        if res is None or res.command is None:
            disabled[s.name] = res.flags if res is not None else ScriptFlags.NONE
        else:
            commands[s.name] = res.command
    notify = notify_scripts(model, resolver)
    fifos = fifo_set(model, resolver)
    if disabled or len(commands) != len(model.vrrp_scripts):
        model = _without_scripts(model, set(commands))
    return VrrpScripts(model, commands, disabled, notify, fifos, resolver.flags, resolver.violation())


def _without_scripts(model: Model, keep: set[str]) -> Model:
    """The model with only the vrrp_scripts in `keep`, and the tracks on the others removed."""
    def tracks(ts: tuple[Track, ...]) -> tuple[Track, ...]:
        return tuple(t for t in ts if t.kind != "script" or t.name in keep)

    return dataclasses.replace(
        model,
        vrrp_scripts=tuple(s for s in model.vrrp_scripts if s.name in keep),
        vrrp_instances=tuple(dataclasses.replace(i, tracks=tracks(i.tracks)) for i in model.vrrp_instances),
        sync_groups=tuple(dataclasses.replace(g, tracks=tracks(g.tracks)) for g in model.sync_groups),
    )


def notify_scripts(model: Model, resolver: ScriptResolver) -> dict[tuple[str, str], NotifyScripts]:
    """NotifyScripts per ("INSTANCE"|"GROUP", name)."""
    g = model.global_defs
    out: dict[tuple[str, str], NotifyScripts] = {}
    kinds = {"notify_master": "master", "notify_backup": "backup", "notify_fault": "fault",
             "notify_stop": "stop", "notify_deleted": "deleted",
             "notify_master_rx_lower_pri": "master_rx_lower_pri", "notify": "notify"}
    owners: list[tuple[str, str, tuple[tuple[str, NotifyScript], ...], bool | None]] = [
        ("INSTANCE", i.name, i.notify, i.smtp_alert) for i in model.vrrp_instances
    ]
    # a sync group's own `smtp_alert [BOOL]` (keepalived vrrp_gsmtp_handler), else the global default
    owners += [("GROUP", s.name, s.notify, s.smtp_alert) for s in model.sync_groups]
    smtp_default = bool(g.smtp_alert_vrrp if g.smtp_alert_vrrp is not None else g.smtp_alert)
    for target, name, notify, smtp in owners:
        fields: dict[str, object] = {}
        for kw, script in notify:
            if kw == "notify_deleted":
                fields["notify_deleted"] = True
                if not script or not script[0]:  # bare `notify_deleted`: no script of its own
                    continue
            if not script:  # () is only a bare notify_deleted's
                continue
            cmd = resolver.notify_command(script)
            if cmd is not None:
                fields[kinds[kw]] = cmd
        fields["smtp_alert"] = smtp_default if smtp is None else smtp
        out[(target, name)] = NotifyScripts(**fields)  # type: ignore[arg-type]
    return out


class NotifyDispatcher:
    """Callable sink for the core's Notify effects."""

    def __init__(self, notifier: Notifier, scripts: dict[tuple[str, str], NotifyScripts]) -> None:
        self.notifier = notifier
        self.scripts = scripts

    def __call__(self, n: Notify) -> None:
        sc = self.scripts.get((n.target, n.name), NotifyScripts())
        if n.event in ("MASTER_PRIORITY", "BACKUP_PRIORITY"):
            self.notifier.priority_change(n.name, n.event == "MASTER_PRIORITY", n.priority)
        elif n.event == "MASTER_RX_LOWER_PRI":
            self.notifier.master_rx_lower_pri(n.name, n.priority, sc)
        elif n.target == "GROUP":
            self.notifier.group(n.name, n.event, sc)
        else:
            self.notifier.instance(n.name, n.event, n.priority, sc)


def tracked_interfaces(model: Model) -> set[str]:
    """Interfaces whose link state reaches the core: track_interface on instances and sync groups,
    and the `dev`/`iif` of static entries with a `track_group`. Link state comes from netlink
    (IFF_RUNNING), which also stands in for `linkbeat_interfaces` polling (MII/ETHTOOL/IOCTL read
    the same carrier state the kernel reports)."""
    return (
        {t.name for i in model.vrrp_instances for t in i.tracks if t.kind == "interface"}
        | {t.name for g in model.sync_groups for t in g.tracks if t.kind == "interface"}
        | {n for i in model.vrrp_instances for n in track_group_interfaces(model, i.name)}
    )


def file_trackers(model: Model, set_tracker: SetTracker, reload: bool = False) -> FileTrackers:
    """track_file blocks: create files with init_file (at a reload, no `overwrite` of an existing
    file), then watch them (inotify)."""
    specs = []
    for f in model.track_files:
        init = f.init_file is not None
        words = list(f.init_file or ())
        overwrite = "overwrite" in words
        values = [w for w in words if w != "overwrite"]
        try:
            value = int(values[0], 0) if values else 0
        except ValueError:
            value = 0
        spec = TrackFileSpec(f.name, f.file, init, value, overwrite)
        if init:
            try:
                init_track_file(spec, reload=reload)
            except OSError as exc:
                log.error("Unable to initialise track file %s: %s", f.file, exc)
        specs.append(spec)

    def changed(tf: TrackedFile, value: int) -> None:
        set_tracker("file", tf.name, value)

    return FileTrackers(specs, changed)


def process_tracker(model: Model, set_tracker: SetTracker) -> ProcessTracker:
    specs = []
    for p in model.track_processes:
        if not p.process:
            continue
        match = ParamMatch.NONE if p.param_match is None and len(p.process) == 1 else (
            ParamMatch.EXACT if p.param_match is None else ParamMatch(p.param_match))
        specs.append(ProcessSpec(
            p.name, p.process[0], tuple(p.process[1:]), match, p.full_command, p.quorum,
            QUORUM_MAX_UNLIMITED if p.quorum_max is None else p.quorum_max,
            p.fork_delay_us, p.terminate_delay_us,
        ))

    def changed(tp: TrackedProcess, have: bool) -> None:
        set_tracker("process", tp.name, have)

    return ProcessTracker(specs, changed, rcvbuf=model.global_defs.rcv_bufs.process_monitor)


def fifo_spec(
    words: tuple[str, ...] | None, script: Script | None, resolver: ScriptResolver
) -> FifoSpec | None:
    """`*notify_fifo PATH [user [group]]` with its `*_script` (both children use it)."""
    if not words:
        return None
    uid = gid = None
    if len(words) > 1:
        try:
            uid, gid = resolve_user_group(words[1], words[2] if len(words) > 2 else None)
        except LookupError as exc:
            resolver.report(str(exc))
    cmd = resolver.notify_command(script) if script is not None and script[0] else None
    return FifoSpec(words[0], uid, gid, cmd)


def fifo_set(model: Model, resolver: ScriptResolver) -> FifoSet | None:
    g = model.global_defs
    specs = (fifo_spec(g.notify_fifo, g.notify_fifo_script, resolver),
             fifo_spec(g.vrrp_notify_fifo, g.vrrp_notify_fifo_script, resolver))
    return FifoSet(*specs) if any(specs) else None


def smtp_alerter(model: Model) -> SmtpAlerter | None:
    g = model.global_defs
    if not g.smtp_server or not g.notification_email:
        return None
    host, port = parse_smtp_server(g.smtp_server)
    router_id = g.router_id or socket.gethostname()
    return SmtpAlerter(SmtpSettings(
        host, g.notification_email, g.notification_email_from or f"keepalived@{router_id}", router_id,
        port, g.smtp_helo_name or socket.gethostname(), float(g.smtp_connect_timeout),
        no_email_faults=g.no_email_faults,
    ))


# ---------------------------------------------------------------------------------------------
# Reload (keepalived reload_vrrp_thread: every script killed, track files closed, then all of it
# built again from the new configuration; clear_diff_script and reload_track_processes carry the
# state over). An instance built by the reload must start from every tracker's current value, as
# one built at start-up does: before, only the scripts were restarted and seeded, so an instance
# given a new track_file, track_process or track_interface by a reload waited in FAULT for a value
# that never came.


class TrackerHost(Protocol):
    """What the reload helpers need of the VRRP child."""

    scripts: ScriptTrackers | None
    files: FileTrackers | None
    processes: ProcessTracker | None
    tracked_ifs: set[str]
    ipr: Any

    def set_tracker(self, kind: str, name: str, value: bool | int | None) -> None: ...


async def reload_trackers(host: TrackerHost, old: Model, model: Model, checked: VrrpScripts) -> None:
    """Replace the host's script, file and process trackers by the new configuration's: scripts
    restarted with their state carried over by name, track files re-read (their watchers
    rebuilt), the process tracker rebuilt when the vrrp_track_process blocks changed."""
    checked.log_unused()
    new_scripts = checked.tracker(host.set_tracker)
    new_scripts.carry_over(host.scripts)
    if host.scripts is not None:
        await host.scripts.stop()
    host.scripts = new_scripts
    new_scripts.start()
    if host.files is not None:
        host.files.stop()
    host.files = file_trackers(model, host.set_tracker, reload=True)
    host.files.start()
    if host.processes is None or model.track_processes != old.track_processes:
        if host.processes is not None:
            host.processes.stop()
        host.processes = process_tracker(model, host.set_tracker)
        host.processes.start()
    host.tracked_ifs = tracked_interfaces(model)


async def interface_states(ipr: Any, names: Iterable[str]) -> dict[str, bool]:
    """Tracked interfaces: up and running (a missing one is down)."""
    from pykeepalived.linux.iface import InterfaceNotFound, get_interface  # the VRRP child's only

    out = {}
    for ifname in names:
        try:
            info = await get_interface(ipr, ifname)
            out[ifname] = info.up and info.running
        except InterfaceNotFound:
            out[ifname] = False
    return out


async def tracker_values(host: TrackerHost) -> dict[tuple[str, str], bool | int]:
    """Every tracker's known value (a script that has not reported yet has none)."""
    values: dict[tuple[str, str], bool | int] = {}
    if host.scripts is not None:
        values |= {("script", n): t.ok for n, t in host.scripts.trackers.items() if t.ok is not None}
    if host.files is not None:
        values |= {("file", n): v for n, v in host.files.values.items()}
    if host.processes is not None:
        values |= {("process", n): tp.have_quorum for n, tp in host.processes.tracked.items()}
    values |= {("interface", n): up for n, up in (await interface_states(host.ipr, host.tracked_ifs)).items()}
    return values


def neutral_value(t: TrackWeight) -> bool:
    """The value that neither faults an instance nor changes its priority through `t`: what a
    script new at a reload is until its first result (keepalived SCRIPT_INIT_STATE_INIT_RELOAD,
    process_script_update_priority then counts the first result as a change)."""
    return not t.reverse if t.weight == 0 else t.weight < 0


async def seed_trackers(host: TrackerHost, added: Iterable[VrrpInstance]) -> None:
    """After a reload built `added` (not started yet): every tracker's current value reaches every
    instance (the running ones see only what changed), and the added instances take a neutral value
    for the scripts new at this reload that have not reported yet."""
    for (kind, name), value in (await tracker_values(host)).items():
        host.set_tracker(kind, name, value)
    if host.scripts is None:
        return
    fresh = {n for n, t in host.scripts.trackers.items() if t.init_reload and t.ok is None}
    for inst in added:
        for t in inst.tracking.tracks:
            if t.kind == "script" and t.name in fresh:
                inst.set_tracker("script", t.name, neutral_value(t), 0)
