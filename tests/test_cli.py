import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pykeepalived.options import UsageError, parse_args


def test_keepalived_short_options() -> None:
    o = parse_args(["-f", "/x.conf", "-n", "-l", "-D", "-D", "-P", "-p", "/run/a.pid", "-i", "node1"])
    assert (o.conf_file, o.dont_fork, o.log_console) == ("/x.conf", True, True)
    assert (o.log_detail, o.vrrp_only) == (2, True)
    assert o.pid_file == "/run/a.pid" and o.config_id == "node1"


def test_config_test_implies_foreground_no_respawn_no_syslog() -> None:
    o = parse_args(["--config-test"])
    assert o.config_test and o.dont_fork and o.dont_respawn and o.no_syslog


@pytest.mark.parametrize(
    ("argv", "msg"),
    [(["-Z"], "Unknown option -Z"), (["--bogus"], "Unknown option --bogus"),
     (["-f"], "Missing parameter for option -f")],
)
def test_bad_options(argv: list[str], msg: str) -> None:
    with pytest.raises(UsageError, match=msg):
        parse_args(argv)


def test_signum_and_exit_codes() -> None:
    def run(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pykeepalived", *a], capture_output=True, text=True)

    assert run("--signum=RELOAD").stdout.strip() == "1"
    assert run("--signum=JSON").stdout.strip() == "36"
    r = run("--signum=NOPE")
    assert r.returncode == 1 and "Unknown sigfunc NOPE" in r.stderr
    assert run("-X", "--bogus").returncode == 1
    assert run("-v").returncode == 0


@pytest.mark.parametrize(("argv", "test", "file"), [(["-t"], True, None), (["-t/tmp/x"], True, "/tmp/x"),
                                                    (["--config-test=/tmp/y"], True, "/tmp/y"),
                                                    (["-t", "-f", "k.conf"], True, None)])
def test_optional_argument_options(argv: list[str], test: bool, file: str | None) -> None:
    o = parse_args(argv)
    assert (o.config_test, o.config_test_file) == (test, file)


def test_log_file_optional_argument() -> None:
    assert parse_args(["-g"]).log_file == "keepalived.log"
    assert parse_args(["-g/var/log/k.log"]).log_file == "/var/log/k.log"
    assert parse_args(["--log-file=/a.log"]).log_file == "/a.log"


KEEPALIVED = shutil.which("keepalived", path="/usr/sbin:/usr/bin:/sbin:/bin")
_SYS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _linked(tmp_path: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """pykeepalived run through a link called `name`, found on PATH (as keepalived is)."""
    link = tmp_path / name
    link.symlink_to(Path(sys.executable).parent / "pykeepalived")
    return subprocess.run([name, *args], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{tmp_path}:{_SYS_PATH}"})


def _keepalived(*args: str) -> subprocess.CompletedProcess[str]:
    assert KEEPALIVED is not None
    return subprocess.run(["keepalived", *args], capture_output=True, text=True,
                          env={**os.environ, "PATH": _SYS_PATH})


def test_usage_names_the_program_as_called(tmp_path: Path) -> None:
    """keepalived's usage prints argv[0]: `Usage: keepalived [OPTION...]` through a link named keepalived."""
    r = _linked(tmp_path, "keepalived", "-h")
    assert r.stderr.splitlines()[0] == "Usage: keepalived [OPTION...]"
    if KEEPALIVED:
        assert _keepalived("-h").stderr.splitlines()[0] == "Usage: keepalived [OPTION...]"
    direct = subprocess.run([sys.executable, "-m", "pykeepalived", "-h"], capture_output=True, text=True)
    assert direct.stderr.splitlines()[0] == "Usage: pykeepalived [OPTION...]"


@pytest.mark.skipif(KEEPALIVED is None, reason="needs keepalived 2.2.7")
@pytest.mark.parametrize("args", [["--genhash", "-h"], ["-T"], ["-T", "-s"], ["-T", "-x", "-p", "0"],
                                  ["-l", "-T", "-s", "192.0.2.1", "-p", "0"],
                                  ["-l", "--genhash", "-s", "192.0.2.1"]], ids=" ".join)
def test_genhash_mode_as_keepalived(tmp_path: Path, args: list[str]) -> None:
    """`keepalived -T|--genhash ...` is keepalived's genhash (its usage says `keepalived --genhash`)."""
    ours, theirs = _linked(tmp_path, "keepalived", *args), _keepalived(*args)
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)
    assert theirs.returncode == 1 and "COMMAND [OPTIONS]" in theirs.stderr


@pytest.mark.skipif(not os.path.exists("/usr/bin/genhash"), reason="needs keepalived's genhash")
def test_link_named_genhash_is_genhash(tmp_path: Path) -> None:
    """Debian's /usr/bin/genhash is a link to keepalived: a link named genhash to pykeepalived works."""
    ours = _linked(tmp_path, "genhash", "-s", "192.0.2.1", "-p", "x", "-u", "/")
    theirs = subprocess.run(["genhash", "-s", "192.0.2.1", "-p", "x", "-u", "/"], capture_output=True,
                            text=True, env={**os.environ, "PATH": _SYS_PATH})
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr)
    assert theirs.returncode == 1
    assert theirs.stderr.startswith("invalid port number 'x'\nUsage: genhash COMMAND [OPTIONS]\n")
