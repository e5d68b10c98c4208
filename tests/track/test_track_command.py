"""Command-line splitting as keepalived's alloc_strvec_quoted_escaped, and real spawning."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest

from pykeepalived.config.command_words import CommandSyntaxError, split_quoted_escaped
from pykeepalived.track.command import (
    ScriptCommand,
    cmd_str,
    kill_group,
    parse_script_line,
    spawn,
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("/bin/a b  c", ["/bin/a", "b", "c"]),
        ("'a b' \"c d\"", ["a b", "c d"]),
        ("x'y z'w", ["xy zw"]),
        (r"a\ b", ["a b"]),
        (r"\x41\101\cA\t", ["AA\x01\t"]),
        (r"'\x20'", [" "]),
        (r"\q", ["q"]),
        ("", []),
    ],
)
def test_split(text: str, words: list[str]) -> None:
    assert split_quoted_escaped(text) == words


@pytest.mark.parametrize("text", ["'abc", '"abc', "abc\\"])
def test_split_errors(text: str) -> None:
    with pytest.raises(CommandSyntaxError):
        split_quoted_escaped(text)


def test_man_page_example() -> None:
    # keepalived.conf(5): escapes processed at both levels, the first level keeps the quotes' content
    line = (
        r""""/etc/keepalived/notify_event.sh ' spaces\\x20f\x69le ' '\"s p a c e \"' G1.VI_1 master" """
        r"""root group"""
    )
    sl = parse_script_line(line)
    assert sl.argv == (
        "/etc/keepalived/notify_event.sh",
        " spaces file ",
        '"s p a c e "',
        "G1.VI_1",
        "master",
    )
    assert (sl.user, sl.group) == ("root", "group")


def test_cmd_str() -> None:
    assert cmd_str(["/bin/x", "a b"]) == "'/bin/x' 'a b'"
    assert cmd_str(["</dev/tcp/127.0.0.1/80"]) == "</dev/tcp/127.0.0.1/80"


def test_shell_decision(tmp_path: Path) -> None:
    noshebang = tmp_path / "plain"
    noshebang.write_text("exit 3\n")
    noshebang.chmod(0o755)
    assert ScriptCommand.from_argv([str(noshebang)]).use_shell
    assert not ScriptCommand.from_argv(["/bin/true"]).use_shell
    assert ScriptCommand.from_argv(["</etc/hostname"]).use_shell


def _run(cmd: ScriptCommand, *extra: str) -> int:
    async def go() -> int:
        p = await spawn(cmd, extra)
        return await p.wait()

    return asyncio.run(go())


def test_spawn_no_shell_args_intact(tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = tmp_path / "rec.sh"
    script.write_text(
        f'#!/bin/sh\nfor a in "$@"; do echo "[$a]"; done > {out}\necho "$IFS$LD_PRELOAD" >> {out}\n'
    )
    script.chmod(0o755)
    cmd = ScriptCommand.from_argv([str(script), "a b", "$HOME", "*"])
    assert _run(cmd, "x") == 0
    lines = out.read_text().splitlines()
    assert lines[:4] == ["[a b]", "[$HOME]", "[*]", "[x]"]


def test_spawn_via_shell_without_shebang(tmp_path: Path) -> None:
    script = tmp_path / "plain"
    script.write_text("exit 3\n")
    script.chmod(0o755)
    assert _run(ScriptCommand.from_argv([str(script)])) == 3
    assert _run(ScriptCommand.from_argv(["</nonexistent/file"])) != 0
    assert _run(ScriptCommand.from_argv(["</etc/hostname"])) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user")
def test_spawn_as_user() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        os.chmod(d, 0o777)
        out = Path(d) / "id"
        cmd = ScriptCommand(("/bin/sh", "-c", f"id -u > {out}; id -G >> {out}"), uid=65534, gid=65534)
        assert _run(cmd) == 0
        assert out.read_text().split() == ["65534", "65534"]


def test_spawned_child_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What keepalived's scripts get (lib/notify.c system_call_script): stdio on /dev/null, no other
    descriptor of the daemon (here one inherited as inheritable, as pass_fds leaves them), SIGPIPE
    at its default although Python ignores it, and their own process group."""
    import pykeepalived.track.command as command

    monkeypatch.setattr(command, "_inherited_closed", False)  # as in a freshly started daemon
    r, w = os.pipe()
    os.set_inheritable(r, True)
    try:
        checks = (
            f'[ ! -e /proc/$$/fd/{r} ] || exit 10; '
            'for n in 0 1 2; do [ "$(readlink /proc/$$/fd/$n)" = /dev/null ] || exit 11; done; '
            "m=$(awk '/^SigIgn/{print $2}' /proc/$$/status); [ $(( 0x$m & 0x1000 )) -eq 0 ] || exit 12; "
            "[ \"$(cut -d' ' -f5 /proc/$$/stat)\" = $$ ] || exit 13"
        )
        assert _run(ScriptCommand(("/bin/sh", "-c", checks))) == 0
    finally:
        os.close(r)
        os.close(w)


def test_spawn_killed_by_signal_and_group() -> None:
    async def go() -> tuple[int, int | None, int]:
        p = await spawn(ScriptCommand(("/bin/sleep", "30")))
        pgid = os.getpgid(p.pid)
        assert kill_group(p.pid, 15)
        rc = await p.wait()
        return pgid - p.pid, p.returncode, rc

    assert asyncio.run(go()) == (0, -15, -15)


def test_spawn_missing_file_raises() -> None:
    async def go() -> None:
        await spawn(ScriptCommand(("/nonexistent/script",)))

    with pytest.raises(FileNotFoundError):
        asyncio.run(go())


def test_spawn_reaped_without_pidfd(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where pidfd_open fails (old kernel, no descriptor left) the child is still reaped (polling)."""

    def no_pidfd(pid: int, flags: int = 0) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    assert _run(ScriptCommand(("/bin/sh", "-c", "exit 7"))) == 7
