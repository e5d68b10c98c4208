"""enable_script_security checks on real files and directories."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.track.security import (
    ScriptFlags,
    check_script_secure,
    check_track_script_secure,
    default_script_user,
    security_violation_message,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="ownership checks need root")


@pytest.fixture
def root_dir() -> Iterator[Path]:
    # pytest's tmp_path lives under a 0700 root-owned dir; make our own, root-owned, 0755
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        os.chmod(d, 0o755)
        yield Path(d)


def make(p: Path, mode: int = 0o755, body: str = "#!/bin/sh\nexit 0\n") -> str:
    p.write_text(body)
    p.chmod(mode)
    return str(p)


def test_secure_script(root_dir: Path) -> None:
    path = make(root_dir / "ok.sh")
    res = check_script_secure([path, "arg"], 0, 0, True)
    assert res.command is not None and res.command.argv == (path, "arg")
    assert res.flags == ScriptFlags.ISSCRIPT | ScriptFlags.EXECUTABLE
    assert res.messages == []


def test_world_writable_script(root_dir: Path) -> None:
    path = make(root_dir / "bad.sh", 0o757)
    res = check_script_secure([path], 0, 0, True)
    assert res.command is None
    assert res.messages == [f"Unsafe permissions found for script '{path}' - disabling."]
    # without enable_script_security: flagged, still run, summary line
    res2 = check_script_secure([path], 0, 0, False)
    assert res2.command is not None and res2.flags & ScriptFlags.INSECURE
    assert res2.messages == [f"Unsafe permissions found for script '{path}'."]
    assert security_violation_message(res2.flags, False) == (
        "SECURITY VIOLATION - scripts are being executed but script_security not enabled."
        " There are insecure scripts."
    )
    assert security_violation_message(ScriptFlags.ISSCRIPT, False) == (
        "SECURITY VIOLATION - scripts are being executed but script_security not enabled."
    )
    assert security_violation_message(res2.flags, True) is None


def test_writable_directory_on_path(root_dir: Path) -> None:
    sub = root_dir / "sub"
    sub.mkdir()
    path = make(sub / "chk.sh")
    sub.chmod(0o777)
    res = check_track_script_secure("chk_web", [path], 0, 0, True)
    assert res.command is None
    assert res.messages == [
        f"Unsafe permissions found for script '{path}' - disabling.",
        "Disabling track script chk_web due to insecure",
    ]
    sub.chmod(0o1777)  # sticky directories (like /tmp) are fine
    assert check_script_secure([path], 0, 0, True).command is not None


def test_non_root_owner(root_dir: Path) -> None:
    path = make(root_dir / "nobody.sh")
    os.chown(path, 65534, 65534)
    res = check_script_secure([path], 0, 0, True)
    assert res.command is None and res.flags & ScriptFlags.INHIBIT
    # run as nobody, protection is not needed
    assert check_script_secure([path], 65534, 65534, True).command is not None


def test_not_found_not_executable_path_search(root_dir: Path) -> None:
    res = check_track_script_secure("x", [str(root_dir / "missing")], 0, 0, True)
    assert res.command is None
    assert res.messages[-1] == "Disabling track script x since not found/accessible"
    noexec = make(root_dir / "noexec.sh", 0o644)
    res = check_script_secure([noexec], 65534, 65534, True)
    assert res.command is None
    assert res.messages == [
        f"WARNING - script '{noexec}' is not executable for uid:gid 65534:65534 - disabling."
    ]
    res = check_script_secure(["true"], 0, 0, True)
    assert res.command is not None and res.command.argv[0].endswith("/true")
    assert res.messages[0].startswith("WARNING - script `true` resolved by path search to `")
    assert check_script_secure(["no-such-command-xyz"], 0, 0, True).messages == [
        "Cannot find script no-such-command-xyz in path - disabling"
    ]


def test_symlink_keeps_name(root_dir: Path) -> None:
    real = make(root_dir / "real.sh")
    link = root_dir / "link" / "alias.sh"
    link.parent.mkdir()
    link.symlink_to(real)
    res = check_script_secure([str(link)], 0, 0, True)
    assert res.command is not None
    # canonical directory, original file name kept only when it names the same file: here it does not
    assert res.command.argv[0] == real


def test_default_user(tmp_path: Path) -> None:
    import pwd

    try:
        pwd.getpwnam("keepalived_script")
        pytest.skip("keepalived_script exists on this host")
    except KeyError:
        pass
    logs: list[str] = []
    u = default_script_user(report=logs.append)
    assert (u.uid, u.gid, u.ok) == (0, 0, True)
    assert logs == ["Script user 'keepalived_script' does not exist"]
    logs.clear()
    u = default_script_user(script_security=True, report=logs.append)
    assert not u.ok
    assert logs[-1] == "Unable to set default user keepalived_script for script"
    assert default_script_user("nobody") == type(u)(65534, 65534, True)
    assert not default_script_user("no_such_user_xyz", report=logs.append).ok
