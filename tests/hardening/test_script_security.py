"""enable_script_security and a track script that cannot be run (issue 20, item 3), beside keepalived.

keepalived checks every vrrp_script before its instances start (vrrp.c check_vrrp_script_security):
one that is insecure (a path component writable by others) with enable_script_security, not found,
or not executable by its user is disabled and removed from the instances and sync groups tracking
it, so they run as if it were not configured: a MASTER stays MASTER. With enable_script_security
and no `keepalived_script` user, a vrrp_script without `user` is removed as it is read ("Unable to
set default user for vrrp script X - removing"). Before, pykeepalived kept such an instance in FAULT
forever and its `-t` said nothing. Both daemons get the same files: `-t` output and exit status, the
run-time lines and the state are compared."""

from __future__ import annotations

import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import PYKEEPALIVED, differential, instance_conf, log_lines, wait_for
from tests.hardening.test_trackers_reload import steady

pytestmark = pytest.mark.netns

VIP = "192.0.2.100"
SECURITY = re.compile(r"Disabling track script|Unsafe permissions|SECURITY VIOLATION"
                      r"|Unable to set default user|is not executable for uid|Cannot find script"
                      r"|track script \S+ not found")


def _has_default_user() -> bool:
    try:
        pwd.getpwnam("keepalived_script")
    except KeyError:
        return False
    return True


# case -> (script file mode, or None for a missing file; global_defs lines)
CASES = {
    "insecure": (0o777, "    enable_script_security\n    script_user root\n"),
    "not_executable": (0o644, "    enable_script_security\n    script_user root\n"),
    "not_found": (None, "    enable_script_security\n    script_user root\n"),
    "no_default_user": (0o755, "    enable_script_security\n"),
    "insecure_unchecked": (0o777, "    script_user root\n"),  # runs, with the SECURITY VIOLATION line
}


@pytest.fixture
def script_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="pyka-scrsec-"))  # 0700, root's, in the sticky /tmp: safe
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _setup(case: str, d: Path) -> str:
    mode, globals_ = CASES[case]
    if case == "no_default_user" and _has_default_user():
        pytest.skip("this host has a keepalived_script user")
    script = d / "chk.sh"
    if mode is not None:
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(mode)
    inst = instance_conf(state="MASTER", extra="    track_script {\n        chk_ww\n    }\n")
    return (f"global_defs {{\n{globals_}}}\nvrrp_script chk_ww {{\n    script {script}\n    interval 1\n}}\n"
            + inst[inst.index("vrrp_instance"):])


def _config_test(host: Host, argv: list[str], conf: Path) -> tuple[int, str]:
    p = host.popen([*argv, "-t", "-f", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = p.communicate(timeout=60)
    return p.returncode, out.decode()


@pytest.mark.parametrize("case", list(CASES))
def test_config_test_as_keepalived(oracle_lab: tuple[Lab, Host, Host], script_dir: Path, case: str) -> None:
    _, ka_host, _ = oracle_lab  # keepalived -t checks the interfaces: run both where eth0 exists
    conf = script_dir / "keepalived.conf"
    conf.write_text(_setup(case, script_dir))
    ka = _config_test(ka_host, ["keepalived"], conf)
    py = _config_test(ka_host, PYKEEPALIVED, conf)
    assert py == ka
    if case != "not_executable":  # keepalived disables that one silently under -t
        assert ka[0] != 0 and ka[1]


@pytest.mark.parametrize("case", list(CASES))
def test_run_time_as_keepalived(oracle_lab: tuple[Lab, Host, Host], script_dir: Path, case: str) -> None:
    _, *hosts = oracle_lab
    with differential(hosts, _setup(case, script_dir)) as pair:
        for n in pair:
            n.start()
        for n in pair:  # a disabled script is not tracked: MASTER as without it
            wait_for(lambda n=n: n.has(VIP), 20)
            steady(lambda n=n: n.has(VIP))
        ka, py = ([x.replace(str(n.dir), "DIR") for x in log_lines(n, SECURITY)] for n in pair)
        assert ka
        assert py == ka
        assert log_lines(pair[1], re.compile("VRRP child failed|Traceback")) == []


def test_start_stop_scripts_violation_as_keepalived(oracle_lab: tuple[Lab, Host, Host],
                                                    script_dir: Path) -> None:
    """The parent's line for an insecure startup/shutdown script without enable_script_security."""
    _, *hosts = oracle_lab
    script = script_dir / "start.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o777)
    inst = instance_conf(state="MASTER")
    conf = (f"global_defs {{\n    script_user root\n    startup_script {script}\n"
            f"    shutdown_script {script}\n}}\n" + inst[inst.index("vrrp_instance"):])
    with differential(hosts, conf) as pair:
        for n in pair:
            n.start()
        for n in pair:
            wait_for(lambda n=n: n.has(VIP), 20)
        ka, py = (log_lines(n, SECURITY) for n in pair)
        assert ("SECURITY VIOLATION - start/shutdown scripts are being executed but script_security not"
                " enabled. There are insecure scripts.") in ka
        assert py == ka


def test_check_scripts_violation_as_keepalived(oracle_lab: tuple[Lab, Host, Host], script_dir: Path) -> None:
    """The checker child's line for an insecure MISC_CHECK script without enable_script_security
    (keepalived logs it before it opens IPVS, so also on a kernel without IPVS)."""
    _, *hosts = oracle_lab
    script = script_dir / "misc.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o777)
    conf = f"""global_defs {{
    script_user root
}}
virtual_server 192.0.2.200 80 {{
    lb_kind NAT
    protocol TCP
    real_server 192.0.2.10 80 {{
        MISC_CHECK {{
            misc_path {script}
        }}
    }}
}}
"""
    line = re.compile(r"SECURITY VIOLATION - check scripts")
    with differential(hosts, conf) as pair:
        for n in pair:
            n.start()
        for n in pair:
            wait_for(lambda n=n: bool(log_lines(n, line)), 20)
        ka, py = (log_lines(n, SECURITY) for n in pair)
        want = [f"Unsafe permissions found for script '{script}'.",
                "SECURITY VIOLATION - check scripts are being executed but script_security not enabled."
                " There are insecure scripts."]
        assert py[:2] == ka[:2] == want


@pytest.mark.parametrize("kind", ["misc", "start_stop"])
def test_config_test_checker_and_parent_scripts_as_keepalived(oracle_lab: tuple[Lab, Host, Host],
                                                              script_dir: Path, kind: str) -> None:
    """-t's SECURITY VIOLATION lines of the checker's and the parent's scripts carry keepalived's
    "There are insecure scripts." from the real permission checks."""
    _, ka_host, _ = oracle_lab
    script = script_dir / "s.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o777)
    conf = script_dir / "keepalived.conf"
    if kind == "misc":
        conf.write_text(f"global_defs {{\n    script_user root\n}}\nvirtual_server 192.0.2.200 80 {{\n"
                        "    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n"
                        f"    real_server 192.0.2.10 80 {{\n        MISC_CHECK {{\n"
                        f"            misc_path {script}\n        }}\n    }}\n}}\n")
    else:
        conf.write_text(f"global_defs {{\n    script_user root\n    startup_script {script}\n}}\n")
    ka = _config_test(ka_host, ["keepalived"], conf)
    assert ka[0] == 6 and "There are insecure scripts." in ka[1]
    assert _config_test(ka_host, PYKEEPALIVED, conf) == ka
