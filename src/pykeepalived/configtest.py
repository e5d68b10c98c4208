# Theory of operation
# -------------------
# `pykeepalived -t` (keepalived --config-test): parse, then check the model against the running system
# as keepalived's children do at start-up -- interfaces exist (unless `dynamic_interfaces`), scripts
# exist and are executable, script security -- print every diagnostic in keepalived's
# `(FILE: Line N) message` form to stderr (or the -t FILE) and exit with keepalived's -t status
# (diag.exit_code). Also the configuration dump (`--dump-conf-syntax`). A tool above the packages:
# it runs the configuration through the same checks as the runtime (daemon/trackers.py,
# daemon/checker/check_scripts.py), so the configuration package itself imports no runtime code.
"""Config test (-t) and configuration dump."""

from __future__ import annotations

import os
import sys
from dataclasses import replace

from pykeepalived.config.complete import complete_diagnostics, fit_vips
from pykeepalived.config.diag import NOWHERE, READINGS, ConfigErr, Diagnostic, Reporter, exit_code
from pykeepalived.config.dump import dump_model
from pykeepalived.config.interfaces import check_interfaces
from pykeepalived.config.load import load_config, stopping_reading
from pykeepalived.config.model import Model, Script
from pykeepalived.config.sync_tracking import tracking_diagnostics
from pykeepalived.config.vrrp_extra import address_vmac_lines
from pykeepalived.options import Options
from pykeepalived.safefile import open_append


def check_system(model: Model, rep: Reporter, interfaces: set[str] | None = None,
                 readings: tuple[str, ...] = READINGS) -> None:
    """keepalived's start-up checks that depend on the running system, those of the readings of
    the file that completed (`readings`: a missing parameter stops keepalived -t in the middle)."""
    if "parent" in readings:
        _start_stop_script_security(model, rep)  # main(), before the children's readings
    if "checker" in readings:
        _checker_script_security(model, rep)
    if "vrrp" not in readings:
        return
    n0 = len(rep.diags)
    bad_if = check_interfaces(model, rep, interfaces)
    dynamic = model.global_defs.dynamic_interfaces
    # keepalived looks a tracked interface up before reading its options: one it does not find
    # has no option messages
    gone = {d.loc for d in rep.diags[n0:]
            if d.message.endswith("doesn't exist") and "tracked interface" in d.message}
    rep.diags[:n0] = [d for d in rep.diags[:n0] if not (d.loc in gone and "track_interface" in d.message)]
    if bad_if and not dynamic:
        # keepalived's VRRP child stops here under -t (vrrp_daemon.c start_vrrp): none of
        # vrrp_complete_init's checks, the script ones included, are made, so none of the
        # instances' and sync groups' line-less messages the builder made for it are printed.
        vrrp = frozenset({"vrrp"})
        rep.diags[:] = [d for d in rep.diags if d.loc.line or d.procs != vrrp]
    elif model.vrrp_instances:
        disabled = _vrrp_script_security(model, rep)
        # vrrp_complete_init, after the script security check, which took the disabled scripts off
        # the instances (no "ignoring tracked script X with weights" about them); its failing
        # checks stop it there
        model, fitted = fit_vips(model)
        failed = complete_diagnostics(model)
        rep.diags += fitted
        for i in model.vrrp_instances:
            for line in address_vmac_lines(i):
                rep.error(NOWHERE, line)
        rep.diags += failed or tracking_diagnostics(_without_scripts(model, disabled))


def _without_scripts(model: Model, names: set[str]) -> Model:
    if not names:
        return model
    return replace(model, vrrp_instances=tuple(
        replace(i, tracks=tuple(t for t in i.tracks if not (t.kind == "script" and t.name in names)))
        for i in model.vrrp_instances))


def _vrrp_script_security(model: Model, rep: Reporter) -> set[str]:
    """keepalived check_vrrp_script_security, as the VRRP child makes it (daemon/trackers.py
    check_vrrp_scripts: path search, permissions, run-as user); under -t only its config errors
    are printed: the disabled track scripts and the "SECURITY VIOLATION" line."""
    from pykeepalived.daemon.trackers import ScriptResolver, check_vrrp_scripts
    from pykeepalived.track.security import ScriptFlags

    checked = check_vrrp_scripts(model, ScriptResolver(model, report=lambda _msg: None))
    for name, flags in checked.disabled.items():
        if flags & ScriptFlags.INHIBIT:
            rep.error(NOWHERE, f"Disabling track script {name} due to insecure")
        elif flags & ScriptFlags.NOTFOUND:
            rep.error(NOWHERE, f"Disabling track script {name} since not found/accessible")
    if checked.violation is not None:
        rep.error(NOWHERE, checked.violation, ConfigErr.SECURITY_ERROR)
    return set(checked.disabled)


def _checker_script_security(model: Model, rep: Reporter) -> None:
    """keepalived check_check_script_security, as the checker child makes it (its scripts through
    the same checks: daemon/checker/check_scripts.py); under -t only the SECURITY VIOLATION line is
    printed."""
    from pykeepalived.check.from_config import services_from_model
    from pykeepalived.daemon.checker.check_scripts import check_script_violation, secure_misc_checks
    from pykeepalived.daemon.trackers import ScriptResolver

    resolver = ScriptResolver(model, report=lambda _msg: None)
    mapped = services_from_model(model)
    for script in mapped.scripts.values():
        resolver.secure(script)
    secure_misc_checks(mapped.services, resolver)
    if (line := check_script_violation(model, resolver)) is not None:
        rep.error(NOWHERE, line, ConfigErr.SECURITY_ERROR)


def _start_stop_script_security(model: Model, rep: Reporter) -> None:
    """keepalived main(): the parent's check_start_stop_script_secure on startup/shutdown_script."""
    from pykeepalived.daemon.trackers import ScriptResolver

    g = model.global_defs.process
    scripts: list[Script] = []
    for s in (g.startup_script, g.shutdown_script):
        if s is not None:  # (command, user, group)
            scripts.append(s)
    line = ScriptResolver(model, report=lambda _msg: None).violation("start/shutdown ", *scripts)
    if line is not None:
        rep.error(NOWHERE, line, ConfigErr.SECURITY_ERROR)


def run_config_test(
    path: str, config_id: str | None = None, all_config: bool = False, interfaces: set[str] | None = None
) -> tuple[int, list[Diagnostic]]:
    model, diags = load_config(path, config_id, all_config)
    rep = Reporter()
    rep.diags = list(diags)
    if not any(d.level == ConfigErr.FILE_NOT_FOUND and not d.loc.line for d in diags):
        stopped = stopping_reading(diags)
        check_system(model, rep, interfaces, READINGS[:READINGS.index(stopped)] if stopped else READINGS)
    return exit_code(rep.diags), rep.diags


def config_test(opts: Options) -> int:
    """`pykeepalived -t[FILE]`: messages to stderr or FILE, keepalived's -t exit status."""
    try:
        code, diags = run_config_test(opts.conf_file, opts.config_id, opts.all_config)
    except Exception as e:  # never a traceback for the user: report as keepalived's program error
        print(f"Internal error while checking configuration: {e!r}", file=sys.stderr)
        return 70
    text = config_test_output(diags)
    if opts.config_test_file:
        try:
            with os.fdopen(open_append(opts.config_test_file), "ab") as fh:
                fh.write(text)
        except OSError as e:
            print(f"Unable to open {opts.config_test_file}: {e.strerror}", file=sys.stderr)
            _write_stderr(text)
    else:
        _write_stderr(text)
    return code


def config_test_output(diags: list[Diagnostic]) -> bytes:
    """What -t prints: the file's own bytes, as keepalived prints them (a byte that is not UTF-8 is
    a surrogate escape in our strings); messages keepalived only logs are left out."""
    return "".join(d.format() + "\n" for d in diags if not d.log_only).encode("utf-8", "surrogateescape")


def _write_stderr(data: bytes) -> None:
    sys.stderr.flush()
    sys.stderr.buffer.write(data)
    sys.stderr.buffer.flush()


def dump_conf_syntax(opts: Options) -> int:
    """Print the effective configuration in keepalived syntax (re-parsing gives the same model)."""
    model, diags = load_config(opts.conf_file, opts.config_id, opts.all_config)
    for d in diags:
        if d.level != ConfigErr.OK:
            print(d.format(), file=sys.stderr)
    sys.stdout.write(dump_model(model))
    return 0
