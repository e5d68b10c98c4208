import subprocess
import sys

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
