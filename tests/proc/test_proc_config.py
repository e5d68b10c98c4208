"""Process-level keywords: the settings the daemon derives from them, pid file and log names, and
`pykeepalived -t` against `keepalived -t` on their error messages."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.configtest import run_config_test
from pykeepalived.daemon.log import log_file_name
from pykeepalived.daemon.pidfile import pid_path
from pykeepalived.daemon.procconf import (
    ENV,
    RLIMIT_RTTIME_DEFAULT,
    ChildSched,
    ProcConf,
    from_model,
)
from pykeepalived.options import parse_args


def conf_of(tmp_path: Path, text: str) -> ProcConf:
    f = tmp_path / "keepalived.conf"
    f.write_text(text)
    model, _ = load_config(str(f), None, False)
    return from_model(model, parse_args(["-f", str(f)]))


def test_settings_from_configuration(tmp_path: Path) -> None:
    pc = conf_of(tmp_path, """
instance blue
child_wait_time 2
net_namespace_ipvs
global_defs {
    process_names
    bfd_process_name my_bfd_process_name_too_long
    process_name kaparent
    vrrp_priority -7
    checker_rt_priority 150
    checker_rlimit_rtime 1
    bfd_no_swap
    vrrp_cpu_affinity 0
    umask IWGRP|IWOTH
    reload_check_config
    startup_script "/bin/echo hello" root
    startup_script_timeout 3
}
""")
    assert pc.names == {"vrrp": "keepalived_vrrp", "checker": "keepalived_lvs", "bfd": "my_bfd_process_"}
    assert pc.process_name == "kaparent"
    assert pc.sched["vrrp"] == ChildSched(priority=-7, cpus=[0], rlimit_rttime=RLIMIT_RTTIME_DEFAULT)
    assert pc.sched["checker"].rt_priority == 99  # clamped to the maximum
    assert pc.sched["checker"].rlimit_rttime == 2  # 1 becomes 2 (the soft limit is half)
    assert pc.sched["bfd"].no_swap
    assert pc.umask == 0o022
    assert pc.reload_check_config == "/dev/null"
    assert pc.startup is not None and pc.startup.timeout == 3
    assert pc.startup.argv[0].endswith("/echo") and pc.startup.argv[1:] == ["hello"]
    assert pc.startup.uid == 0 and pc.shutdown is None
    assert (pc.instance, pc.use_pid_dir, pc.child_wait_time, pc.net_namespace_ipvs) == ("blue", True, 2, "")
    assert pc.suffix() == "_blue"
    # a child without a name of its own takes the parent's, as after keepalived's fork()
    pc.names.pop("vrrp")
    assert pc.child_name("vrrp") == "kaparent"
    assert ProcConf.from_json(pc.to_json()) == pc


def test_defaults_and_umask_forms(tmp_path: Path) -> None:
    pc = conf_of(tmp_path, "global_defs {\n}\n")
    assert pc == ProcConf()  # nothing set: keepalived's defaults
    assert pc.umask == 0o177 and pc.child_wait_time == 5 and not pc.use_pid_dir
    assert conf_of(tmp_path, "global_defs {\n umask 0x12\n}\n").umask == 0o22
    assert conf_of(tmp_path, "global_defs {\n umask 027\n}\n").umask == 0o27
    assert conf_of(tmp_path, "global_defs {\n umask IRUSR | IXOTH\n}\n").umask == 0o401
    # -u wins over the configuration (keepalived: "umask command line option specified")
    f = tmp_path / "keepalived.conf"
    f.write_text("global_defs {\n umask 027\n}\n")
    model, _ = load_config(str(f), None, False)
    assert from_model(model, parse_args(["-f", str(f), "-u", "2"])).umask == 0o002
    # -s overrides net_namespace, which implies the pid directory
    f.write_text("net_namespace red\n")
    model, _ = load_config(str(f), None, False)
    pc = from_model(model, parse_args(["-f", str(f), "-s", "green"]))
    assert pc.net_namespace == "green" and pc.use_pid_dir and pc.suffix() == "_green"


def test_pid_file_and_log_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pid_path("parent") == "/run/keepalived.pid"
    assert pid_path("checker") == "/run/checkers.pid"
    assert pid_path("vrrp", use_pid_dir=True) == "/run/keepalived/vrrp.pid"
    assert pid_path("parent", True, "blue") == "/run/keepalived/keepalived_blue.pid"
    assert pid_path("checker", True, "blue") == "/run/keepalived/checkers_blue.pid"
    assert pid_path("bfd", True, "blue") == "/run/keepalived/bfd_blue.pid"
    monkeypatch.setenv(ENV, ProcConf(net_namespace="ns1", instance="inst").to_json())
    assert log_file_name("/var/log/ka.log", "vrrp", "_ns1_inst") == "/var/log/ka_vrrp_ns1_inst.log"
    assert log_file_name("/var/log/ka.log", "parent", "_ns1_inst") == "/var/log/ka_ns1_inst.log"
    from pykeepalived.daemon.log import ident
    from pykeepalived.daemon.pidfile import default_path

    assert ident("vrrp") == "Keepalived_vrrp_ns1_inst"
    assert ident("checker") == "Keepalived_healthcheckers_ns1_inst"
    assert default_path("vrrp") == "/run/keepalived/vrrp_inst.pid"


# --- -t against keepalived -t --------------------------------------------------------------------

CASES = [
    "global_defs {\n vrrp_priority 30\n}\n",
    "global_defs {\n checker_priority abc\n}\n",
    "global_defs {\n bfd_priority\n}\n",
    "global_defs {\n vrrp_rt_priority 150\n}\n",
    "global_defs {\n vrrp_rt_priority 0\n}\n",
    "global_defs {\n checker_rt_priority x\n}\n",
    "global_defs {\n bfd_rt_priority\n}\n",
    "global_defs {\n checker_cpu_affinity 0 4096\n}\n",
    "global_defs {\n vrrp_cpu_affinity\n}\n",
    "global_defs {\n bfd_rlimit_rtime 5000\n}\n",
    "global_defs {\n vrrp_rlimit_rttime 0\n}\n",
    "global_defs {\n process_name averyveryverylongname\n}\n",
    "global_defs {\n lvs_process_name foo\n vrrp_process_name 123456789012345\n}\n",
    "global_defs {\n process_names\n vrrp_no_swap\n checker_no_swap\n}\n",
    "global_defs {\n umask 0022\n}\n",
    "global_defs {\n umask 0999\n}\n",
    "global_defs {\n umask 022 033\n}\n",
    "global_defs {\n umask IWGRP|IWOTH\n}\n",
    "global_defs {\n umask IWGRP|\n}\n",
    "global_defs {\n umask IWGRP IWOTH\n}\n",
    "global_defs {\n umask IRWXG\n}\n",
    "global_defs {\n startup_script_timeout 0\n shutdown_script_timeout 5000\n}\n",
    "global_defs {\n startup_script\n}\n",
    "global_defs {\n shutdown_script /bin/true\n}\n",
    "global_defs {\n enable_script_security\n script_user root\n shutdown_script /bin/true\n}\n",
    "global_defs {\n startup_script /bin/true\n startup_script /bin/false\n}\n",
    "global_defs {\n reload_check_config\n}\n",
    "child_wait_time -1\n",
    "child_wait_time abc\n",
    "child_wait_time 3\nuse_pid_dir\nnamespace_with_ipsets\n",
    "net_namespace\n",
    "instance\n",
    "instance a\ninstance b\n",
    "net_namespace_ipvs\n",
]


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    ns = f"pkproct-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("keepalived") is None,
                    reason="needs root and keepalived")
def test_config_test_messages_match_keepalived(netns: str, tmp_path: Path) -> None:
    problems = []
    for i, text in enumerate(CASES):
        f = tmp_path / f"c{i}.conf"
        f.write_text(text)
        ka = subprocess.run(["ip", "netns", "exec", netns, "keepalived", "-t", "-f", str(f)],
                            capture_output=True, text=True, timeout=30)
        rc, diags = run_config_test(str(f))
        ours = "".join(d.format().replace(f"({f}: Line", "(Line") + "\n" for d in diags)
        if (ka.returncode, ka.stderr) != (rc, ours):
            problems.append(f"{text!r}\n keepalived rc={ka.returncode}: {ka.stderr!r}\n"
                            f" ours rc={rc}: {ours!r}")
    assert not problems, "\n".join(problems)
