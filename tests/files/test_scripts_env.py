"""use_symlink_paths (script paths through symlinks kept or resolved) and set_supplementary_groups
(scripts run with the run-as user's groups), on real files and real processes."""

from __future__ import annotations

import asyncio
import os
import pwd
import tempfile
from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.daemon.trackers import ScriptResolver
from pykeepalived.track.command import ScriptCommand, spawn
from pykeepalived.track.security import check_script_secure


def _script(tmp_path: Path) -> tuple[Path, Path]:
    real = tmp_path / "real"
    real.mkdir()
    target = real / "check.sh"
    target.write_text("#!/bin/sh\nexit 0\n")
    target.chmod(0o755)
    link = tmp_path / "check-link.sh"
    link.symlink_to(target)
    return target, link


def test_symlinks_resolved_by_default_and_kept_with_use_symlink_paths(tmp_path: Path) -> None:
    target, link = _script(tmp_path)
    uid, gid = os.geteuid(), os.getegid()
    resolved = check_script_secure([str(link)], uid, gid, False).command
    assert resolved is not None and resolved.argv[0] == str(target)
    dotted = f"{tmp_path}/./real/../check-link.sh"
    kept = check_script_secure([dotted], uid, gid, False, keep_symlinks=True).command
    assert kept is not None and kept.argv[0] == str(link)  # only cleaned of /./ and /../


def test_use_symlink_paths_from_the_configuration(tmp_path: Path) -> None:
    target, link = _script(tmp_path)
    conf = tmp_path / "k.conf"
    for value, expected in (("", target), ("use_symlink_paths", link), ("use_symlink_paths false", target)):
        conf.write_text(f"global_defs {{\n {value}\n}}\n")
        model, _ = load_config(str(conf))
        cmd = ScriptResolver(model).notify_command((str(link), "", ""))
        assert cmd is not None and cmd.argv[0] == str(expected), value


def test_set_supplementary_groups_uses_the_users_groups(tmp_path: Path) -> None:
    user = next((p for p in pwd.getpwall() if len(os.getgrouplist(p.pw_name, p.pw_gid)) > 1), None)
    if user is None:
        pytest.skip("no user with supplementary groups on this machine")
    target, _ = _script(tmp_path)
    tmp_path.chmod(0o755)
    conf = tmp_path / "k.conf"
    script = (str(target), user.pw_name, "")
    conf.write_text("global_defs {\n set_supplementary_groups\n}\n")
    with_groups = ScriptResolver(load_config(str(conf))[0]).notify_command(script)
    conf.write_text("global_defs {\n}\n")
    without = ScriptResolver(load_config(str(conf))[0]).notify_command(script)
    assert with_groups is not None and without is not None
    assert without.groups is None
    assert set(with_groups.groups or ()) == set(os.getgrouplist(user.pw_name, user.pw_gid))


@pytest.mark.skipif(os.geteuid() != 0, reason="setting groups needs root")
def test_spawned_script_has_the_groups() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as d:  # reachable by nobody
        os.chmod(d, 0o777)
        _check_groups(Path(d) / "groups")


def _check_groups(out: Path) -> None:
    async def run(cmd: ScriptCommand) -> set[int]:
        proc = await spawn(cmd)
        await proc.wait()
        return {int(g) for g in out.read_text().split()}

    argv = ("/bin/sh", "-c", f"id -G > {out}")
    nobody = pwd.getpwnam("nobody")
    assert asyncio.run(run(ScriptCommand(argv, nobody.pw_uid, nobody.pw_gid))) == {nobody.pw_gid}
    extra = (nobody.pw_gid, 4, 27)
    assert asyncio.run(run(ScriptCommand(argv, nobody.pw_uid, nobody.pw_gid, groups=extra))) == set(extra)
