"""Trackers and notifies of the VRRP child, built from the configuration model.

vrrp_script results and tracked interfaces become `driver.set_tracker(kind, name, value)` calls;
the core's Notify effects become notify scripts, FIFO lines and mail through notify.Notifier.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pwd
import socket
from collections.abc import Callable

from pykeepalived.config.model import Model, Script
from pykeepalived.config.to_params import track_group_interfaces
from pykeepalived.linux.rcvbuf import netlink_bufs
from pykeepalived.notify.fifo import FifoSet, FifoSpec
from pykeepalived.notify.scripts import Notifier, NotifyScripts
from pykeepalived.notify.smtp import SmtpAlerter, SmtpSettings, parse_smtp_server
from pykeepalived.track.command import (
    CommandSyntaxError,
    ScriptCommand,
    resolve_user_group,
    split_quoted_escaped,
)
from pykeepalived.track.file import FileTrackers, TrackedFile, TrackFileSpec, init_track_file
from pykeepalived.track.process import (
    QUORUM_MAX_UNLIMITED,
    ParamMatch,
    ProcessSpec,
    ProcessTracker,
    TrackedProcess,
)
from pykeepalived.track.script import ScriptSpec, ScriptTracker, ScriptTrackers
from pykeepalived.track.security import (
    ScriptUser,
    SecurityResult,
    check_script_secure,
    check_track_script_secure,
    default_script_user,
)
from pykeepalived.vrrp.effects import Notify

log = logging.getLogger("pykeepalived")

SetTracker = Callable[[str, str, bool | int | None], None]


class ScriptResolver:
    """Turns configured script lines into runnable commands, with keepalived's security checks."""

    def __init__(self, model: Model) -> None:
        g = model.global_defs
        self.security = g.enable_script_security
        self._user = g.script_user[0] if g.script_user else None
        self._group = g.script_user[1] if len(g.script_user) > 1 else None
        self._default: ScriptUser | None = None
        opts = dict(g.options)
        self.keep_symlinks = bool(opts.get("use_symlink_paths", False))  # keepalived 2.3+
        self.set_supplementary_groups = bool(opts.get("set_supplementary_groups", False))

    @property
    def default(self) -> ScriptUser:
        """Resolved on first use, so configurations without scripts log nothing about the user."""
        if self._default is None:
            self._default = default_script_user(self._user, self._group, self.security, log.error)
        return self._default

    def _ids(self, user: str | None, group: str | None) -> tuple[int, int] | None:
        if not user:
            return (self.default.uid, self.default.gid) if self.default.ok else None
        try:
            return resolve_user_group(user, group or None)
        except LookupError as exc:
            log.error("%s", exc)
            return None

    def notify_command(self, script: Script) -> ScriptCommand | None:
        res = self.secure(script)
        return None if res is None else res.command

    def secure(self, script: Script) -> SecurityResult | None:
        """keepalived's check_script_secure for a (command, user, group) script; None when the
        line cannot be parsed or its user resolved (logged)."""
        cmd, user, group = script
        try:
            argv = split_quoted_escaped(cmd)
        except CommandSyntaxError as exc:
            log.error("Unable to parse script '%s': %s", cmd, exc)
            return None
        ids = self._ids(user, group)
        if not argv or ids is None:
            return None
        res = check_script_secure(argv, ids[0], ids[1], self.security, log.error, self.keep_symlinks)
        res.command = self._groups(res.command)
        return res

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

    def track_command(self, name: str, script: Script, user: tuple[str, ...]) -> ScriptCommand | None:
        cmd = script[0]
        try:
            argv = split_quoted_escaped(cmd)
        except CommandSyntaxError as exc:
            log.error("Unable to parse script '%s': %s", cmd, exc)
            return None
        ids = self._ids(user[0] if user else None, user[1] if len(user) > 1 else None)
        if not argv or ids is None:
            return None
        return self._groups(check_track_script_secure(name, argv, ids[0], ids[1], self.security, log.error,
                                                      self.keep_symlinks).command)


def script_trackers(model: Model, resolver: ScriptResolver, set_tracker: SetTracker) -> ScriptTrackers:
    """One runner per vrrp_script used by an instance; results go to the core as they change."""
    used = {t.name for i in model.vrrp_instances for t in i.tracks if t.kind == "script"}
    used |= {t.name for g in model.sync_groups for t in g.tracks if t.kind == "script"}
    specs = []
    for s in model.vrrp_scripts:
        if s.name not in used:
            log.info("Warning - script %s is not used", s.name)
            continue
        if s.script is None:
            continue
        cmd = resolver.track_command(s.name, s.script, s.user)
        if cmd is None:
            continue
        specs.append(ScriptSpec(s.name, cmd, s.interval_us, s.timeout_us or 0, s.rise, s.fall, s.init_fail))

    def changed(tr: ScriptTracker, ok: bool | None) -> None:
        set_tracker("script", tr.name, ok)

    return ScriptTrackers(specs, changed)


def notify_scripts(model: Model, resolver: ScriptResolver) -> dict[tuple[str, str], NotifyScripts]:
    """NotifyScripts per ("INSTANCE"|"GROUP", name)."""
    g = model.global_defs
    out: dict[tuple[str, str], NotifyScripts] = {}
    kinds = {"notify_master": "master", "notify_backup": "backup", "notify_fault": "fault",
             "notify_stop": "stop", "notify_deleted": "deleted",
             "notify_master_rx_lower_pri": "master_rx_lower_pri", "notify": "notify"}
    owners: list[tuple[str, str, tuple[tuple[str, Script], ...], bool | None]] = [
        ("INSTANCE", i.name, i.notify, i.smtp_alert) for i in model.vrrp_instances
    ]
    # a sync group's own `smtp_alert [BOOL]` (keepalived vrrp_gsmtp_handler), else the global default
    owners += [("GROUP", s.name, s.notify, _group_smtp_alert(s.options)) for s in model.sync_groups]
    smtp_default = bool(g.smtp_alert_vrrp if g.smtp_alert_vrrp is not None else g.smtp_alert)
    for target, name, notify, smtp in owners:
        fields: dict[str, object] = {}
        for kw, script in notify:
            if kw == "notify_deleted":
                fields["notify_deleted"] = True
                if not script or not script[0]:  # bare `notify_deleted`: no script of its own
                    continue
            cmd = resolver.notify_command(script)
            if cmd is not None:
                fields[kinds[kw]] = cmd
        fields["smtp_alert"] = smtp_default if smtp is None else smtp
        out[(target, name)] = NotifyScripts(**fields)  # type: ignore[arg-type]
    return out


def _group_smtp_alert(opts: tuple[tuple[str, object], ...]) -> bool | None:
    """The last `smtp_alert` of a vrrp_sync_group (bare keyword: true), None when absent."""
    found: bool | None = None
    for kw, value in opts:
        if kw == "smtp_alert":
            found = True if value is None else bool(value)
    return found


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


def file_trackers(model: Model, set_tracker: SetTracker) -> FileTrackers:
    """track_file blocks: create files with init_file, then watch them (inotify)."""
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
                init_track_file(spec)
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

    return ProcessTracker(specs, changed, rcvbuf=netlink_bufs(model, "process_monitor"))


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
            log.error("%s", exc)
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
        no_email_faults=bool(dict(g.options).get("no_email_faults", False)),
    ))
