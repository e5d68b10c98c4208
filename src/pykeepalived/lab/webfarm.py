# Theory of operation
# -------------------
# The pieces of the "web servers behind a VIP" lab shared by the demo (pykeepalived.demo), the
# end-to-end tests (tests/e2e/) and the failover benchmark (bench/bench_e2e.py):
#
#   * `Nginx`: one nginx per lab host, with its own prefix, config, pid file, logs and temp paths in
#     a private directory, listening on port 80 of every address of the host (so it answers on the
#     VIP once VRRP puts it there) and serving a one-line page naming the host (workers run as
#     root, so the directory may be private). The binary is linked/copied to `nginx-<host>` (or a
#     given name) in that directory: namespaces share the PID namespace, so a `killall -0 nginx-n1`
#     check on n1 must not see n2's nginx, nor another test's. nginx daemonizes as it does under
#     systemd; `kill()` makes it die at once (SIGKILL to the master and its workers);
#   * `Daemon`: pykeepalived (impl "py") or keepalived 2.2.7 (impl "ka") run in the foreground in a
#     host with keepalived's usual options (-n -l -D -G, private pid files, -i config-id) and, for
#     the demo, a log file (-g) whose lines carry nanosecond wall-clock timestamps;
#   * `Prober`: the client. A thread inside the client's namespace asks http://VIP/ every few tens
#     of milliseconds with a short timeout and records (time, answering host or error), which is how
#     "the client is served again" is measured from outside, exactly as a user would see it;
#   * `kill_netns_processes`: processes do not die with their network namespace, so every teardown
#     kills what still runs in the lab's namespaces before deleting them.
"""nginx + keepalived nodes in a namespace lab: shared by the demo, tests/e2e and bench_e2e."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pykeepalived.lab.netns import IP, Host, Lab

NGINX = "/usr/sbin/nginx"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

_NGINX_CONF = """\
user root;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    keepalive_timeout 0;
    server {{
        listen 80;
        listen [::]:80;
        root {dir}/html;
        default_type text/plain;
    }}
}}
"""


class Nginx:
    """An nginx web server in one lab host (its files in a private directory)."""

    def __init__(self, host: Host, workdir: Path | None = None, name: str | None = None) -> None:
        self.host = host
        self.dir = workdir or Path(tempfile.mkdtemp(prefix=f"nginx-{host.name}-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "tmp").mkdir(exist_ok=True)
        html = self.dir / "html"
        html.mkdir(exist_ok=True)
        (html / "index.html").write_text(f"served by {host.name}\n")
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(_NGINX_CONF.format(dir=self.dir))
        # the process name killall/pidof see (comm: 15 chars); must be unique machine-wide
        self.name = (name or f"nginx-{host.name}")[:15]
        self.binary = self.dir / self.name
        if not self.binary.exists():
            try:
                os.link(NGINX, self.binary)
            except OSError:
                shutil.copy2(NGINX, self.binary)
        self.pidfile = self.dir / "nginx.pid"

    def command(self) -> list[str]:
        """The command that starts this nginx (it daemonizes); usable from a script in the host."""
        errlog = str(self.dir / "error.log")
        return [str(self.binary), "-p", str(self.dir), "-c", str(self.conf), "-e", errlog]

    def start(self, timeout: float = 5) -> Nginx:
        self.host.run(self.command())
        deadline = time.monotonic() + timeout
        while not self.answers():
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx on {self.host.name} does not answer: {self.error_log()}")
            time.sleep(0.05)
        return self

    def master_pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def pids(self) -> list[int]:
        """The master and its workers."""
        master = self.master_pid()
        return [] if master is None else [master, *_children(master)]

    def running(self) -> bool:
        return self.master_pid() is not None

    def answers(self) -> bool:
        return _curl_ok(self.host)

    def kill(self, timeout: float = 5) -> None:
        """nginx dies: SIGKILL to the master and every worker, then wait until all are gone."""
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.01)
        with contextlib.suppress(OSError):
            self.pidfile.unlink()

    def error_log(self) -> str:
        try:
            return (self.dir / "error.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _curl_ok(host: Host) -> bool:
    proc = subprocess.run(
        [IP, "netns", "exec", host.ns, "curl", "-sf", "-o", "/dev/null", "-m", "1", "http://127.0.0.1/"],
        capture_output=True, check=False,
    )
    return proc.returncode == 0


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            out.append(int(d))
    return out


# ---------------------------------------------------------------------------------------- daemons
_LOGFILE_TS = re.compile(r"^\w{3} (\w{3} +\d+ \d\d:\d\d:\d\d)\.(\d{9}) (\d{4}): (.*)$")


class Daemon:
    """pykeepalived (impl "py") or keepalived 2.2.7 (impl "ka") in the foreground in one lab host."""

    def __init__(
        self, host: Host, config: str | Path, *, impl: str = "py", config_id: str | None = None,
        workdir: Path | None = None, env: dict[str, str] | None = None, log_file: bool = False,
    ) -> None:
        self.host = host
        self.impl = impl
        self.dir = workdir or Path(tempfile.mkdtemp(prefix=f"ka-{host.name}-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        if isinstance(config, Path):
            self.conf = config
        else:
            self.conf = self.dir / "keepalived.conf"
            self.conf.write_text(config)
        self.config_id = config_id or host.name
        self.console = self.dir / "console.log"
        self.log_file = self.dir / "ka.log" if log_file else None
        self.env = dict(os.environ, TMPDIR=str(self.dir), **(env or {}))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def parent_pidfile(self) -> Path:
        return self.dir / "parent.pid"

    @property
    def vrrp_log(self) -> Path | None:
        """The VRRP child's log file (-g FILE: the child writes FILE with `_vrrp` before the extension)."""
        return None if self.log_file is None else self.log_file.with_name(self.log_file.stem + "_vrrp.log")

    def argv(self) -> list[str]:
        base = [sys.executable, "-m", "pykeepalived"] if self.impl == "py" else ["keepalived"]
        argv = [
            *base, "-n", "-l", "-D", "-G", "-f", str(self.conf), "-i", self.config_id,
            "-p", str(self.parent_pidfile), "-r", str(self.dir / "vrrp.pid"),
            "-c", str(self.dir / "check.pid"),
        ]
        if self.log_file is not None:
            argv += [f"--log-file={self.log_file}", "--flush-log-file"]
        return argv

    def start(self) -> Daemon:
        with open(self.console, "ab") as out:
            # own session: a Ctrl-C meant for the demo or pytest does not reach the daemon directly
            self.proc = self.host.popen(
                self.argv(), stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def vrrp_pid(self) -> int | None:
        try:
            return int((self.dir / "vrrp.pid").read_text())
        except (OSError, ValueError):
            return None

    def logs(self) -> str:
        try:
            return self.console.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (graceful: priority-0 adverts, addresses removed), SIGKILL if it hangs."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def kill(self) -> None:
        if self.proc is None:
            return
        child = self.vrrp_pid()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self.proc = None


def parse_log_file_line(line: str) -> tuple[float, str] | None:
    """A `-g` log file line -> (wall-clock time, message); None for anything else."""
    m = _LOGFILE_TS.match(line.rstrip("\n"))
    if m is None:
        return None
    t = time.mktime(time.strptime(f"{m.group(1)} {m.group(3)}", "%b %d %H:%M:%S %Y"))
    return t + int(m.group(2)) / 1e9, m.group(4)


class LogTail:
    """Follows a growing log file, returning complete new lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pos = 0
        self.buf = ""

    def read(self) -> list[str]:
        try:
            with open(self.path, errors="replace") as f:
                f.seek(self.pos)
                data = f.read()
                self.pos = f.tell()
        except OSError:
            return []
        self.buf += data
        *lines, self.buf = self.buf.split("\n")
        return lines


# ---------------------------------------------------------------------------------------- client
@dataclass(frozen=True)
class Probe:
    t: float  # time.monotonic() when the answer (or the error) came
    served_by: str | None  # host name in the page, None on error
    error: str = ""


def http_get(addr: str, port: int = 80, timeout: float = 0.25) -> str:
    """One HTTP/1.0 GET / from the calling thread's namespace; returns the body."""
    with socket.create_connection((addr, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(f"GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n", 1)[0] + b" ":
        raise OSError(f"bad answer: {head[:40]!r}")
    return body.decode(errors="replace").strip()


class Prober:
    """The client: polls http://VIP/ from inside its namespace and keeps every answer."""

    def __init__(self, client: Host, vip: str, period: float = 0.05, timeout: float = 0.25) -> None:
        self.client = client
        self.vip = vip
        self.period = period
        self.timeout = timeout
        self.probes: list[Probe] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> Prober:
        from pykeepalived.lab.netns import setns

        def body() -> None:
            setns(self.client.ns)
            while not self._stop.is_set():
                t_next = time.monotonic() + self.period
                try:
                    text = http_get(self.vip, timeout=self.timeout)
                    p = Probe(time.monotonic(), text.removeprefix("served by ").strip())
                except OSError as exc:
                    p = Probe(time.monotonic(), None, _short_error(exc))
                with self._lock:
                    self.probes.append(p)
                self._stop.wait(max(0.0, t_next - time.monotonic()))

        self._thread = threading.Thread(target=body, name="prober", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def since(self, t0: float) -> list[Probe]:
        with self._lock:
            return [p for p in self.probes if p.t >= t0]

    def last(self) -> Probe | None:
        with self._lock:
            return self.probes[-1] if self.probes else None

    def wait_served_by(self, name: str, since: float, timeout: float) -> float:
        """Wait until a probe after `since` is answered by `name`; return its time (monotonic)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.since(since):
                if p.served_by == name:
                    return p.t
            time.sleep(0.02)
        last = self.last()
        raise TimeoutError(f"client not served by {name} within {timeout} s (last probe: {last})")


def _short_error(exc: OSError) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if exc.strerror:
        return exc.strerror.lower()
    return str(exc)


def curl(host: Host, url: str, timeout: float = 2) -> str:
    """What `curl URL` prints in `host` (raises LabError when curl fails)."""
    return host.run(["curl", "-sS", "--fail", "-m", str(timeout), url], timeout=timeout + 5).strip()


# ---------------------------------------------------------------------------------------- teardown
def netns_pids(ns: str) -> list[int]:
    proc = subprocess.run([IP, "netns", "pids", ns], capture_output=True, text=True, check=False)
    return [int(x) for x in proc.stdout.split() if x.isdigit()]


def kill_netns_processes(namespaces: list[str]) -> None:
    """SIGKILL every process still running in these namespaces (they outlive `ip netns del`)."""
    me = os.getpid()
    for ns in namespaces:
        for pid in netns_pids(ns):
            if pid != me:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def lab_namespaces(lab: Lab) -> list[str]:
    return [h.ns for h in lab.hosts.values()]


# ---------------------------------------------------------------------------------------- configs
def nginx_ha_config(
    *, priority: int, check: str, interval: float = 2, timeout: float | None = None, fall: int = 1,
    rise: int = 1,
    weight: int | None = -5, advert: float = 2, state: str = "BACKUP", nopreempt: bool = False,
    notify: str | None = None, vip: str = "192.0.2.100/24", iface: str = "eth0", vrid: int = 51,
    auth_pass: str = "nginx42", router_id: str = "nginx_node",
) -> str:
    """keepalived.conf of one node of the seeds' scenario: one instance tracking nginx with a script."""
    weight_line = f"    weight {weight}\n" if weight is not None else ""
    timeout_line = f"    timeout {timeout:g}\n" if timeout is not None else ""
    notify_line = f'    notify "{notify}"\n' if notify else ""
    nopreempt_line = "    nopreempt\n" if nopreempt else ""
    return f"""global_defs {{
    router_id {router_id}
    enable_script_security
    script_user root
}}

vrrp_script chk_nginx {{
    script "{check}"
    interval {interval:g}
{timeout_line}    fall {fall}
    rise {rise}
{weight_line}}}

vrrp_instance VI_1 {{
    state {state}
    interface {iface}
    virtual_router_id {vrid}
    priority {priority}
    advert_int {advert:g}
{nopreempt_line}    authentication {{
        auth_type PASS
        auth_pass {auth_pass}
    }}
    virtual_ipaddress {{
        {vip}
    }}
    track_script {{
        chk_nginx
    }}
{notify_line}}}
"""
