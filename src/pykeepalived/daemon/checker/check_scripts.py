"""MISC_CHECK scripts through keepalived's script security checks (check_misc.c).

# Theory of operation
keepalived gives every MISC_CHECK a run-as identity when it is parsed: the checker's `user USER
[GROUP]` when set, else the default script user (global `script_user`, else `keepalived_script` if
that user exists, else the daemon's own uid/gid). After the configuration is read,
check_misc_script_security runs check_script_secure on each one, exactly as for the notify scripts
(track/security.py: path search, realpath, executable for the run-as uid/gid, and with
`enable_script_security` the ownership and permission of every path component of a script run as
root). A checker whose script is refused is removed from its real server: `Disabling misc script CMD
due to insecure` (inhibited by enable_script_security) or `Disabling misc script CMD since not
found/accessible`; a script that is not executable for its user is removed silently (the security
check already logged why). The surviving checkers carry the resolved command (argv, uid, gid, shell
or not), which the probe runs (check/probes/misc.py). Without enable_script_security, the checker's
scripts (MISC_CHECK, quorum and real server notifies, notify FIFO scripts) give keepalived's
"SECURITY VIOLATION - check scripts ..." line (check_check_script_security).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from pykeepalived.check.model import MiscCheckSpec, VirtualServerSpec
from pykeepalived.config.command_words import cmd_str
from pykeepalived.config.model import Model
from pykeepalived.daemon.trackers import ScriptResolver
from pykeepalived.track.security import ScriptFlags

log = logging.getLogger("pykeepalived")


def secure_misc_checks(services: list[VirtualServerSpec],
                       resolver: ScriptResolver) -> list[VirtualServerSpec]:
    """The virtual servers with every MISC_CHECK resolved, the refused ones removed."""
    cache: dict[tuple[str, str, str], MiscCheckSpec | None] = {}
    out = []
    for vs in services:
        rss = []
        for rs in vs.real_servers:
            checks = []
            for c in rs.checks:
                if isinstance(c, MiscCheckSpec):
                    key = (c.misc_path, c.user or "", c.group or "")
                    if key not in cache:
                        cache[key] = _resolve(c, key, resolver)
                    resolved = cache[key]
                    if resolved is None:
                        continue
                    c = replace(resolved, conn=c.conn, timing=c.timing, log_all_failures=c.log_all_failures,
                                misc_timeout=c.misc_timeout, misc_dynamic=c.misc_dynamic)
                checks.append(c)
            rss.append(replace(rs, checks=tuple(checks)))
        out.append(replace(vs, real_servers=tuple(rss)))
    return out


def _resolve(c: MiscCheckSpec, key: tuple[str, str, str], resolver: ScriptResolver) -> MiscCheckSpec | None:
    res = resolver.secure(key)
    if res is None:
        return None
    if res.flags & ScriptFlags.INHIBIT:
        log.info("Disabling misc script %s due to insecure", cmd_str(res.command.argv) if res.command
                 else c.misc_path)
        return None
    if res.flags & ScriptFlags.NOTFOUND:
        log.info("Disabling misc script %s since not found/accessible", c.misc_path)
        return None
    if res.command is None or not res.flags & (ScriptFlags.EXECUTABLE | ScriptFlags.SYSTEM):
        return None
    return replace(c, command=res.command)


def check_script_violation(model: Model, resolver: ScriptResolver) -> str | None:
    """keepalived check_check_script_security's closing line: the scripts `resolver` has checked
    (MISC_CHECK, notifies) and the FIFO scripts (opening the FIFOs logs their own lines); None with
    enable_script_security, without scripts or without virtual servers."""
    if not model.virtual_servers:
        return None
    g = model.global_defs
    return resolver.violation("check ", g.notify_fifo_script, g.lvs_notify_fifo_script)
