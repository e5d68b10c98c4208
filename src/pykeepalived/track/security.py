# Theory of operation
# -------------------
# keepalived checks every script once, after the configuration is read (lib/notify.c:
# check_script_secure, called from vrrp.c: check_vrrp_script_security and friends):
#  1. `</path` commands are shell file tests (flag SYSTEM), nothing to check.
#  2. A bare name is searched in PATH as the run-as user ("WARNING - script `x` resolved by path
#     search to `/p/x`. Please specify full path."); not found -> disabled.
#  3. The path is canonicalised (realpath; the original file-name part is kept when it names the
#     same file, since some programs behave according to their name) and argv[0] replaced.
#  4. The file must be executable by the run-as uid/gid, else "WARNING - script '...' is not
#     executable for uid:gid U:G - disabling."
#  5. If the script runs as root (uid or gid 0) or is setuid/setgid root, every component of its
#     path (each directory from "/", then the file) must be owned by root and not writable by a
#     non-root group or by others (directories with the sticky bit excepted):
#     "Unsafe permissions found for script '...'[ - disabling]." With enable_script_security the
#     script is disabled (INHIBIT), otherwise only flagged INSECURE.
#  6. Finally, if scripts exist and enable_script_security is off, one config error
#     "SECURITY VIOLATION - scripts are being executed but script_security not enabled.[ There are
#     insecure scripts.]" is reported.
# The run-as user defaults to `keepalived_script` if that user exists, else the daemon's own
# uid/gid (after the lookup logged "Script user 'keepalived_script' does not exist"); with
# enable_script_security a missing default user is an error and the scripts are dropped.
"""keepalived's enable_script_security / script_user checks."""

from __future__ import annotations

import enum
import logging
import os
import shutil
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pykeepalived.config.command_words import resolve_user_group

from .command import ScriptCommand, is_exec_image, is_redirection_test

log = logging.getLogger("pykeepalived.track")

DEFAULT_SCRIPT_USER = "keepalived_script"

Report = Callable[[str], None]


class ScriptFlags(enum.IntFlag):
    """lib/notify.h SC_* flags."""

    NONE = 0
    ISSCRIPT = 0x01
    INSECURE = 0x02
    INHIBIT = 0x04
    NOTFOUND = 0x08
    EXECUTABLE = 0x10
    SYSTEM = 0x20


@dataclass(slots=True)
class SecurityResult:
    """Outcome of checking one script: the command to run (None = disabled) and its flags."""

    command: ScriptCommand | None
    flags: ScriptFlags
    messages: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.command is not None


def _is_executable(st: os.stat_result, uid: int, gid: int) -> bool:
    # keepalived: lib/notify.c is_executable
    m = st.st_mode
    return bool(
        (uid == 0 and m & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
        or (uid == st.st_uid and m & stat.S_IXUSR)
        or (
            uid != st.st_uid
            and ((gid == st.st_gid and m & stat.S_IXGRP) or (gid != st.st_gid and m & stat.S_IXOTH))
        )
    )


def _path_prefixes(filename: str) -> list[str]:
    """ "/a/b/c" -> ["/", "/a", "/a/b", "/a/b/c"] (keepalived walks each component)."""
    out: list[str] = []
    idx = 0
    while True:
        slash = filename.find("/", idx)
        if slash < 0:
            out.append(filename)
            return out
        out.append(filename[: slash if slash else 1])
        idx = slash + 1


def check_path_security(filename: str, script_security: bool, report: Report) -> ScriptFlags:
    """Walk every component of `filename` (lib/notify.c: check_security)."""
    prefixes = _path_prefixes(filename)
    for i, part in enumerate(prefixes):
        last = i == len(prefixes) - 1
        try:
            st = os.lstat(part)
        except OSError:
            report(f"check_script_secure could not find script '{filename}' - disabling")
            return ScriptFlags.NOTFOUND
        m = st.st_mode
        if (not last and not stat.S_ISDIR(m)) or (last and not stat.S_ISREG(m) and not stat.S_ISLNK(m)):
            report(f"Wrong file type found in script path '{filename}'.")
            return ScriptFlags.INHIBIT
        writable_by_others = ((stat.S_ISDIR(m) and not m & stat.S_ISVTX) or stat.S_ISREG(m)) and (
            (st.st_gid != 0 and m & stat.S_IWGRP) or m & stat.S_IWOTH
        )
        if st.st_uid != 0 or writable_by_others:
            report(
                f"Unsafe permissions found for script '{filename}'"
                f"{' - disabling' if script_security else ''}."
            )
            return ScriptFlags.INSECURE | (ScriptFlags.INHIBIT if script_security else ScriptFlags.NONE)
    return ScriptFlags.NONE


def _find_in_path(name: str, uid: int, gid: int) -> str | None:
    path = os.environ.get("PATH") or os.confstr("CS_PATH") or "/usr/bin:/bin"
    for d in path.split(":"):
        cand = os.path.join(d or ".", name)
        try:
            st = os.stat(cand)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and _is_executable(st, uid, gid):
            return cand
    return None


def check_script_secure(
    argv: Sequence[str],
    uid: int,
    gid: int,
    script_security: bool,
    report: Report | None = None,
    keep_symlinks: bool = False,
) -> SecurityResult:
    """Check one script as keepalived does and return the command to run (or None if disabled).

    `keep_symlinks` (global_defs use_symlink_paths, keepalived 2.3+): the path is only cleaned of
    `/./`, `/../` and repeated `/`, so a script reached through a symlink runs by that path; both
    that path and the file it resolves to must then pass the permission walk.

    `uid`/`gid` are the run-as identity (see `default_script_user`). Every log line keepalived
    would write is passed to `report` (default: the pykeepalived.track logger at INFO) and kept
    in `SecurityResult.messages`.
    """
    messages: list[str] = []

    def say(msg: str) -> None:
        messages.append(msg)
        (report or log.info)(msg)

    args = list(argv)
    if not args or not args[0]:
        say("Cannot find script  in path - disabling")
        return SecurityResult(None, ScriptFlags.NOTFOUND, messages)
    if is_redirection_test(args):
        return SecurityResult(ScriptCommand(tuple(args), uid, gid, True), ScriptFlags.SYSTEM, messages)

    if "/" not in args[0]:
        found = _find_in_path(args[0], uid, gid)
        if found is None:
            say(f"Cannot find script {args[0]} in path - disabling")
            return SecurityResult(None, ScriptFlags.NOTFOUND, messages)
        say(f"WARNING - script `{args[0]}` resolved by path search to `{found}`. Please specify full path.")
        args[0] = found

    try:
        new_path = os.path.realpath(args[0], strict=True)
    except OSError as e:
        say(f"Script {args[0]} cannot be accessed - {e.strerror}")
        return SecurityResult(None, ScriptFlags.NOTFOUND, messages)

    real_file_path: str | None = None
    if keep_symlinks:
        cleaned = os.path.normpath(args[0])
        args[0] = cleaned[1:] if cleaned.startswith("//") else cleaned
        if new_path != args[0]:
            real_file_path = new_path
    elif args[0] != new_path:
        orig_part = args[0].rsplit("/", 1)[1]
        new_dir, new_part = new_path.rsplit("/", 1)
        if orig_part != new_part:
            # keep the name the script was called by, if it names the same file
            real_file_path = new_path
            candidate = f"{new_dir}/{orig_part}"
            try:
                same = os.path.samefile(real_file_path, candidate)
            except OSError:
                same = False
            if same:
                new_path = candidate
            else:
                new_path, real_file_path = real_file_path, None
        args[0] = new_path

    try:
        st = os.stat(real_file_path or args[0])
    except OSError:
        say(f"Unable to access script `{args[0]}` - disabling")
        return SecurityResult(None, ScriptFlags.NOTFOUND, messages)

    flags = ScriptFlags.ISSCRIPT
    need_protection = False
    if _is_executable(st, uid, gid):
        flags |= ScriptFlags.EXECUTABLE
        m = st.st_mode
        if (
            uid == 0
            or gid == 0
            or (st.st_uid == 0 and m & stat.S_IXUSR and m & stat.S_ISUID)
            or (st.st_gid == 0 and m & stat.S_IXGRP and m & stat.S_ISGID)
        ):
            need_protection = True
    else:
        say(f"WARNING - script '{args[0]}' is not executable for uid:gid {uid}:{gid} - disabling.")

    use_shell = False
    if flags & ScriptFlags.EXECUTABLE and not is_exec_image(real_file_path or args[0]):
        say(f"Please add a #! shebang to script {args[0]}")
        use_shell = True

    if need_protection:
        flags |= check_path_security(args[0], script_security, say)
        if real_file_path:
            flags |= check_path_security(real_file_path, script_security, say)

    usable = bool(flags & ScriptFlags.EXECUTABLE) and not flags & (ScriptFlags.INHIBIT | ScriptFlags.NOTFOUND)
    cmd = ScriptCommand(tuple(args), uid, gid, use_shell) if usable else None
    return SecurityResult(cmd, flags, messages)


def check_track_script_secure(
    name: str, argv: Sequence[str], uid: int, gid: int, script_security: bool, report: Report | None = None,
    keep_symlinks: bool = False,
) -> SecurityResult:
    """vrrp.c: check_track_script_secure -- adds the "Disabling track script" config errors."""
    res = check_script_secure(argv, uid, gid, script_security, report, keep_symlinks)
    rep = report or log.info
    if res.flags & ScriptFlags.INHIBIT:
        msg = f"Disabling track script {name} due to insecure"
    elif res.flags & ScriptFlags.NOTFOUND:
        msg = f"Disabling track script {name} since not found/accessible"
    else:
        return res
    res.messages.append(msg)
    rep(msg)
    res.command = None
    return res


def security_violation_message(all_flags: ScriptFlags, script_security: bool, kind: str = "") -> str | None:
    """The summary config error keepalived reports once per process (vrrp.c, check_data.c, main.c).

    `kind` is "" for VRRP scripts, "check " for checker scripts, "start/shutdown " for those.
    """
    if script_security or not all_flags & ScriptFlags.ISSCRIPT:
        return None
    extra = " There are insecure scripts." if all_flags & ScriptFlags.INSECURE else ""
    return f"SECURITY VIOLATION - {kind}scripts are being executed but script_security not enabled.{extra}"


@dataclass(frozen=True, slots=True)
class ScriptUser:
    """The resolved run-as identity; `ok` False means scripts without an explicit user are dropped."""

    uid: int
    gid: int
    ok: bool = True


def default_script_user(
    script_user: str | None = None,
    script_group: str | None = None,
    script_security: bool = False,
    report: Report | None = None,
) -> ScriptUser:
    """Resolve the default run-as user (global `script_user`, else keepalived_script, else us).

    keepalived: lib/notify.c set_default_script_user / get_default_script_user.
    """
    rep = report or log.info
    if script_user is not None:
        try:
            uid, gid = resolve_user_group(script_user, script_group)
        except LookupError as e:
            rep(str(e))
            return ScriptUser(os.geteuid(), os.getegid(), ok=False)
        return ScriptUser(uid, gid)
    try:
        uid, gid = resolve_user_group(DEFAULT_SCRIPT_USER)
    except LookupError as e:
        rep(str(e))
        if script_security:
            rep(f"Unable to set default user {DEFAULT_SCRIPT_USER} for script")
            return ScriptUser(os.geteuid(), os.getegid(), ok=False)
        return ScriptUser(os.geteuid(), os.getegid())
    return ScriptUser(uid, gid)


def which(name: str) -> str | None:
    """Convenience for tests and tools."""
    return shutil.which(name)
