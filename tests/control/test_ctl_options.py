"""pykeepalivedctl's global options (-s, --check-socket, --json, --timeout) go before or after the
command: `pykeepalivedctl status --json` as `pykeepalivedctl --json status`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from pykeepalived.control import ctl


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return ctl.main(list(args), out), out.getvalue()


@pytest.mark.parametrize("command", ["status", "instances", "services", "stats", "dump", "reload"])
def test_global_options_after_the_command(tmp_path: Path, command: str) -> None:
    vsock, csock = str(tmp_path / "v.sock"), str(tmp_path / "c.sock")  # absent: both children down
    before = run("--json", "-s", vsock, "--check-socket", csock, "--timeout", "0.5", command)
    after = run(command, "--json", "-s", vsock, "--check-socket", csock, "--timeout", "0.5")
    assert after == before
    code, text = after
    assert code == ctl.EXIT_UNREACHABLE
    children = json.loads(text)["children"]
    assert {r: c["error"] for r, c in children.items()} == {
        r: f"cannot connect to {p}: No such file or directory"
        for r, p in (("vrrp", vsock), ("checker", csock)) if r in ctl.ROLES[command]}


def test_an_option_before_the_command_is_kept(tmp_path: Path) -> None:
    """An option given before the command is not reset by the command's defaults."""
    vsock = str(tmp_path / "v.sock")
    code, text = run("-s", vsock, "--json", "status", "--checkers")
    assert code == ctl.EXIT_UNREACHABLE
    assert json.loads(text)["children"]["vrrp"]["error"].startswith(f"cannot connect to {vsock}:")
    assert run("status", "--bogus")[0] == ctl.EXIT_USAGE
