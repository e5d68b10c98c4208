"""Trackers and notifies of the VRRP child, built from the configuration model.

vrrp_script results and tracked interfaces become `driver.set_tracker(kind, name, value)` calls;
the core's Notify effects become notify scripts, FIFO lines and mail through notify.Notifier.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pykeepalived.config.model import Model, Script
from pykeepalived.notify.scripts import Notifier, NotifyScripts
from pykeepalived.track.command import (
    CommandSyntaxError,
    ScriptCommand,
    resolve_user_group,
    split_quoted_escaped,
)
from pykeepalived.track.script import ScriptSpec, ScriptTracker, ScriptTrackers
from pykeepalived.track.security import (
    ScriptUser,
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
        cmd, user, group = script
        try:
            argv = split_quoted_escaped(cmd)
        except CommandSyntaxError as exc:
            log.error("Unable to parse script '%s': %s", cmd, exc)
            return None
        ids = self._ids(user, group)
        if not argv or ids is None:
            return None
        return check_script_secure(argv, ids[0], ids[1], self.security, log.error).command

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
        return check_track_script_secure(name, argv, ids[0], ids[1], self.security, log.error).command


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
    owners += [("GROUP", s.name, s.notify, None) for s in model.sync_groups]
    smtp_default = bool(dict(g.options).get("smtp_alert_vrrp", dict(g.options).get("smtp_alert", False)))
    for target, name, notify, smtp in owners:
        fields: dict[str, object] = {}
        for kw, script in notify:
            if kw == "notify_deleted":
                fields["notify_deleted"] = True
                if not script[0]:
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
    return {t.name for i in model.vrrp_instances for t in i.tracks if t.kind == "interface"} | {
        t.name for g in model.sync_groups for t in g.tracks if t.kind == "interface"
    }
