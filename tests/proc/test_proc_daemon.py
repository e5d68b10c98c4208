"""The process-level keywords on a running daemon: process names, scheduling, umask, startup and
shutdown scripts, reload_check_config, net_namespace with an instance (pid files and log names)."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import PYKEEPALIVED, Node, dump_logs, instance_conf, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab(hosts=["n1"]) as lab:
        yield lab


def pid_of(path: Path) -> int:
    wait_for(lambda: path.exists() and path.read_text().strip().isdigit(), 20)
    return int(path.read_text())


def status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (ln.partition(":") for ln in lines)}


def comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def write_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def test_names_scheduling_umask_and_scripts(lab: Lab) -> None:
    node = Node(lab["n1"], "")
    marks = node.dir / "marks"
    up = write_script(node.dir / "up.sh", f'echo "up $*" >> {marks}\nsleep 30')
    down = write_script(node.dir / "down.sh", f"echo down >> {marks}\nexit 3")
    two_cpus = len(os.sched_getaffinity(0)) >= 2
    node.conf.write_text(instance_conf(globals_=f"""
    process_name kaparent
    process_names
    vrrp_process_name ka_vrrp_test
    vrrp_priority -5
    vrrp_no_swap
    checker_cpu_affinity {1 if two_cpus else 0}
    bfd_rt_priority 10
    bfd_rlimit_rttime 3000000
    umask 027
    script_user root
    enable_script_security
    startup_script "{up} first"
    startup_script_timeout 1
    shutdown_script {down}
"""))
    bfd_pid = node.dir / "bfd.pid"
    node.extra = ("--all", "-b", str(bfd_pid))
    node.start()
    try:
        parent, vrrp = pid_of(node.dir / "parent.pid"), pid_of(node.dir / "vrrp.pid")
        checker, bfd = pid_of(node.dir / "check.pid"), pid_of(bfd_pid)
        # process names: what ps -o comm shows
        assert (comm(parent), comm(vrrp), comm(checker), comm(bfd)) == \
            ("kaparent", "ka_vrrp_test", "keepalived_lvs", "keepalived_bfd"), dump_logs(node)
        # scheduling, per child
        assert os.getpriority(os.PRIO_PROCESS, vrrp) == -5
        assert os.getpriority(os.PRIO_PROCESS, checker) == 0
        assert int(status(vrrp)["VmLck"].split()[0]) > 0  # mlockall
        assert int(status(checker)["VmLck"].split()[0]) == 0
        assert os.sched_getaffinity(checker) == {1 if two_cpus else 0}
        assert os.sched_getscheduler(bfd) & ~os.SCHED_RESET_ON_FORK == os.SCHED_RR
        assert os.sched_getparam(bfd).sched_priority == 10
        assert os.sched_getscheduler(vrrp) & ~os.SCHED_RESET_ON_FORK == os.SCHED_OTHER
        assert resource.prlimit(bfd, resource.RLIMIT_RTTIME) == (1500000, 3000000)
        # umask in every process; pid files stay 0644 under it
        # (the VRRP child lifts its umask to 0177 for the instant it creates its control socket)
        umasks = lambda: {status(p)["Umask"] for p in (parent, vrrp, checker, bfd)}  # noqa: E731
        with contextlib.suppress(AssertionError):
            wait_for(lambda: umasks() == {"0027"}, 5)
        assert umasks() == {"0027"}
        assert (node.dir / "vrrp.pid").stat().st_mode & 0o777 == 0o644
    finally:
        assert node.stop() == 0
    logs = node.logs()
    # the startup script ran first, timed out after 1 s (its process group killed), then the children
    assert "Running startup script" in logs and "startup script timed out" in logs, logs
    assert logs.index("startup script timed out") < logs.index("Starting VRRP child process")
    assert "shutdown script script failed, status 3" in logs  # keepalived 2.2.7's text
    assert logs.index("Running shutdown script") > logs.index("Stopping")
    assert marks.read_text().splitlines() == ["up first", "down"]
    assert "failed to die" not in logs  # the default child_wait_time lets them stop
    assert (node.dir / "parent.pid").exists() is False


def test_reload_check_config_refuses_broken_file(lab: Lab) -> None:
    node = Node(lab["n1"], "")
    check = node.dir / "check.log"
    good = instance_conf(globals_=f"    reload_check_config {check}")
    node.conf.write_text(good)
    node.start()
    try:
        wait_for(lambda: "Entering BACKUP STATE" in node.logs(), 20)
        node.conf.write_text(good + "no_such_keyword\n")
        node.signal(signal.SIGHUP)
        wait_for(lambda: f"New config failed validation, see {check} for details" in node.logs(), 20)
        assert "Unknown keyword 'no_such_keyword'" in check.read_text()
        time.sleep(0.5)
        assert "Reloading\n" not in node.logs().replace("Reloading ...", "")  # children not signalled
        # a valid file that changes the instance name is refused too (keepalived validate_config)
        node.conf.write_text("instance other\n" + good)
        node.signal(signal.SIGHUP)
        refused = "Cannot change instance name at a reload - please restart keepalived"
        wait_for(lambda: refused in node.logs(), 20)
        node.conf.write_text(good.replace("priority 100", "priority 90"))
        node.signal(signal.SIGHUP)
        wait_for(lambda: "Reloading\n" in node.logs().replace("Reloading ...", ""), 20)
        assert check.read_text() == ""  # truncated before each check, and this one passed
    finally:
        node.stop()


def test_net_namespace_and_instance(lab: Lab) -> None:
    """Started in the initial namespace, the daemon moves itself into the lab host's namespace; its
    pid files (no -p/-r/-c) land in /run/keepalived/NS/ through the private bind mount, named after
    the instance, and its log file names carry _NS_INSTANCE."""
    host = lab["n1"]
    inst = f"t{uuid.uuid4().hex[:6]}"
    node = Node(host, f"net_namespace {host.ns}\ninstance {inst}\n" + instance_conf())
    run_dir = Path("/run/keepalived")
    had_run_dir = run_dir.exists()
    mount_dir = run_dir / host.ns
    argv = [*PYKEEPALIVED, "-n", "-l", "-D", "-f", str(node.conf), f"-g{node.dir / 'file.log'}"]
    with open(node.log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, TMPDIR=str(node.dir)))
    try:
        vrrp = pid_of(mount_dir / f"vrrp_{inst}.pid")
        parent = pid_of(mount_dir / f"keepalived_{inst}.pid")
        assert parent == proc.pid
        netns = os.stat(f"/run/netns/{host.ns}").st_ino
        assert os.stat(f"/proc/{vrrp}/ns/net").st_ino == netns
        assert os.stat(f"/proc/{parent}/ns/net").st_ino == netns
        wait_for(lambda: "Entering BACKUP STATE" in node.logs(), 20)
        suffix = f"_{host.ns}_{inst}"
        assert f"Changing syslog ident to Keepalived{suffix}" in node.logs()
        wait_for(lambda: (node.dir / f"file_vrrp{suffix}.log").exists(), 10)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert not list(mount_dir.glob("*.pid")) if mount_dir.exists() else True
        if mount_dir.exists():
            mount_dir.rmdir()
        if not had_run_dir and run_dir.exists():
            run_dir.rmdir()
    assert proc.returncode == 0, node.logs()
    suffix = f"_{host.ns}_{inst}"  # the files are flushed at exit (no --flush-log-file)
    assert "Entering BACKUP STATE" in (node.dir / f"file_vrrp{suffix}.log").read_text()
    assert "Starting VRRP child process" in (node.dir / f"file{suffix}.log").read_text()


def test_child_wait_time(lab: Lab) -> None:
    """child_wait_time 0: the parent does not wait for its children at stop, it kills them at once
    (a healthy child, given keepalived's default 5 s, stops by itself: see the first test)."""
    node = Node(lab["n1"], "child_wait_time 0\n" + instance_conf())
    node.start()
    try:
        wait_for(lambda: "Entering BACKUP STATE" in node.logs(), 20)
        assert node.stop() == 0
    finally:
        node.kill()
    assert "vrrp process failed to die - forcing termination" in node.logs()


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")  # type: ignore[return-value]


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_children_are_forks_of_the_parent(lab: Lab, impl: str) -> None:
    """keepalived forks its children without exec: `ps` shows the parent's command line for each, also
    for a child respawned after a kill -9 (pykeepalived's children were `python -m pykeepalived
    --child=vrrp ...`)."""
    node = Node(lab["n1"], instance_conf(), impl=impl).start()
    try:
        parent = pid_of(node.dir / "parent.pid")
        child = pid_of(node.dir / "vrrp.pid")
        wait_for(lambda: "Entering BACKUP STATE" in node.logs() or "Entering MASTER STATE" in node.logs(), 20)
        assert status(child)["PPid"] == str(parent)
        assert cmdline(child) == cmdline(parent)
        os.kill(child, signal.SIGKILL)
        wait_for(lambda: (node.dir / "vrrp.pid").exists()
                 and node.dir.joinpath("vrrp.pid").read_text().strip() not in ("", str(child)), 20)
        again = pid_of(node.dir / "vrrp.pid")
        assert status(again)["PPid"] == str(parent)
        assert cmdline(again) == cmdline(parent)
    except AssertionError:
        print(dump_logs(node))
        raise
    finally:
        node.kill()


def open_files(pid: int) -> set[tuple[str, int]]:
    """(target, access mode) of each descriptor above 2: what it is open on, and O_RDONLY/O_WRONLY/O_RDWR."""
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        if int(fd) <= 2:
            continue
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            flags = Path(f"/proc/{pid}/fdinfo/{fd}").read_text().split("flags:")[1].split()[0]
        except (OSError, IndexError):
            continue
        out.add((target, int(flags, 8) & os.O_ACCMODE))
    return out


def test_forked_children_hold_only_their_descriptors(lab: Lab) -> None:
    """A child forked from the parent (daemon/parent/forkchild.py) closes what it inherits, as the re-executed
    child's close_fds did: of the parent's descriptors it keeps only the write end of the readiness
    pipe (and the BFD pipe ends it is given), not the parent's pid file nor any read end. pykeepalived
    only: keepalived's children keep what they inherit (its consolidated configuration memfd, the
    event loop descriptors it recreates)."""
    node = Node(lab["n1"], instance_conf(globals_="    vrrp_garp_master_delay 0"),
                extra=("--all", "-B")).start()
    try:
        parent = pid_of(node.dir / "parent.pid")
        children = [pid_of(node.dir / "vrrp.pid"), pid_of(node.dir / "check.pid")]
        wait_for(lambda: "Entering BACKUP STATE" in node.logs(), 20)
        mine = open_files(parent)
        assert any(t == str(node.dir / "parent.pid") for t, _ in mine), mine  # held open by the parent
        for child in children:
            shared = open_files(child) & mine
            assert all(t.startswith("pipe:") and mode == os.O_WRONLY for t, mode in shared), \
                (child, shared, mine)
    except AssertionError:
        print(dump_logs(node))
        raise
    finally:
        node.kill()
