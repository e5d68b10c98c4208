# Theory of operation
# -------------------
# `make demo` / `python -m pykeepalived.demo`: a live failover of two nginx servers behind one
# virtual IP, built in network namespaces on this machine (pykeepalived.lab) and removed afterwards.
#
#   1. lab: node1, node2 and a client on one LAN (a Linux bridge); nginx on both nodes;
#   2. pykeepalived on both nodes with the shipped examples/keepalived.conf.nginx (one file, `-i node1`
#      / `-i node2` select the per-node lines), which tracks nginx with examples/check_nginx.sh and
#      reports transitions through examples/notify.sh;
#   3. nginx on the master is killed; the failover is printed as it happens: the daemons' log files
#      (`--log-file`, nanosecond timestamps), the notify script's log and the client, which polls
#      http://VIP/ every 50 ms, are merged into one timeline relative to the kill;
#   4. nginx comes back: the same for the failback; then the daemons are stopped;
#   5. act two, when FRR (bgpd, bfdd, zebra) is installed: the same pair beyond one L2 segment
#      (pykeepalived/lab/frr.py fabric): the VIP is announced with bgp_announce through each node's
#      own FRR to a router, the backup with a worse path (backup_anchor); the master's daemon is
#      killed with -9 and the client is served by the backup as soon as the router drops the path.
#
# Everything runs in a try/finally; SIGINT/SIGTERM/SIGHUP unwind through it, so namespaces,
# daemons and nginx never outlive the demo. Leftovers of a demo that was killed hard (SIGKILL) are
# removed at the next start (fixed namespace prefix "pkdemo-").
"""Live failover demo: two nginx servers, one VIP, pykeepalived, a client."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from pykeepalived.lab import Lab, cleanup_stale, list_netns
from pykeepalived.lab import frr as frrlab
from pykeepalived.lab.webfarm import (
    EXAMPLES,
    Daemon,
    LogTail,
    Nginx,
    Prober,
    curl,
    kill_netns_processes,
    lab_namespaces,
    parse_log_file_line,
)

PREFIX = "pkdemo-"
WORKDIR_PREFIX = "pykeepalived-demo-"
VIP = "192.0.2.100"
NODES = ("node1", "node2")
CONF = "keepalived.conf.nginx"
HOLD = 0.15  # s: events are held this long so that lines from different sources print in order

_tty = sys.stdout.isatty()


def _c(code: str, text: str) -> str:
    return f"\033[{code}m{text}\033[0m" if _tty else text


def bold(t: str) -> str:
    return _c("1", t)


def dim(t: str) -> str:
    return _c("2", t)


def say(text: str = "") -> None:
    print(text, flush=True)


def step(n: int, title: str) -> None:
    say()
    say(bold(f"[{n}] {title}"))


# ------------------------------------------------------------------------------------ timeline
def event(t: float, source: str, label: str, text: str) -> None:
    """One aligned timeline line: time, who, what it means, the raw line."""
    say(f"  {t:+7.3f} s  {source:<7} {bold(f'{label:<21}')} {dim(text)}")


@dataclass
class Event:
    t: float  # seconds relative to the phase's zero
    source: str
    label: str
    text: str
    count: int = 1  # a burst of identical lines (the 5 gratuitous ARPs) is one event


# (pattern, label); the label may use the match's groups. Lines not listed are not shown.
RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"Entering BACKUP STATE \(init\)"), lambda m: "starts as BACKUP"),
    (re.compile(r"VRRP_Script\(\S+\) failed"), lambda m: "check FAILED"),
    (re.compile(r"VRRP_Script\(\S+\) succeeded"), lambda m: "check ok"),
    (re.compile(r"Changing effective priority from (\d+) to (\d+)"), lambda m: f"priority {m[1]} -> {m[2]}"),
    (re.compile(r"received lower priority \((\d+)\) advert"), lambda m: "ignores lower master"),
    (re.compile(r"Receive advertisement timeout"), lambda m: "master down timer"),
    (re.compile(r"Entering MASTER STATE"), lambda m: "-> MASTER, adds VIP"),
    (re.compile(r"Sending gratuitous ARP"), lambda m: "gratuitous ARP"),
    (re.compile(r"Master received advert from \S+ with higher priority"), lambda m: "sees better master"),
    (re.compile(r"Entering BACKUP STATE$"), lambda m: "-> BACKUP, drops VIP"),
    (re.compile(r"Entering FAULT STATE"), lambda m: "-> FAULT"),
    (re.compile(r"sent 0 priority"), lambda m: "resigns (priority 0)"),
    (re.compile(r"Backup received priority 0"), lambda m: "master resigned"),
    (re.compile(r"^Stopped"), lambda m: "daemon stopped"),
]


class Timeline:
    """Merges the daemons' log files, the notify logs and the client's probes into one ordered view."""

    def __init__(self, daemons: dict[str, Daemon], notify_logs: dict[str, Path], prober: Prober) -> None:
        self.tails = {n: LogTail(d.vrrp_log) for n, d in daemons.items() if d.vrrp_log is not None}
        self.notify = {n: LogTail(p) for n, p in notify_logs.items()}
        self.prober = prober
        self.zero_wall = time.time()
        self.zero_mono = time.monotonic()
        self.pending: list[Event] = []
        self.last_client: str | None = None
        self._probe_pos = 0
        self._last_printed: tuple[str, str, str] | None = None
        self.master_since: dict[str, float] = {}  # node -> wall time it last entered MASTER
        self._repeat = 0

    def reset(self, skip_old: bool = True) -> None:
        """Start a new phase: time zero is now; lines written before are not shown."""
        self.zero_wall = time.time()
        self.zero_mono = time.monotonic()
        if skip_old:
            self._collect()
        self.pending = []
        self._probe_pos = len(self.prober.probes)
        self._last_printed = None

    def _collect(self) -> None:
        for node, tail in self.tails.items():
            for line in tail.read():
                parsed = parse_log_file_line(line)
                if parsed is None:
                    continue
                wall, msg = parsed
                for pattern, label in RULES:
                    m = pattern.search(msg)
                    if m:
                        what = label(m)
                        if what.startswith("-> MASTER"):
                            self.master_since[node] = wall
                        elif what == "gratuitous ARP" and wall - self.master_since.get(node, wall) > 1:
                            what = "GARP repeat (+5 s)"  # garp_master_delay: a second burst 5 s later
                        self._add(Event(wall - self.zero_wall, node, what, msg))
                        break
        for node, tail in self.notify.items():
            for line in tail.read():
                parts = line.split()
                if len(parts) < 6:
                    continue
                try:
                    wall = time.mktime(time.strptime(f"{parts[0]} {parts[1][:8]}", "%Y-%m-%d %H:%M:%S"))
                    wall += float("0." + parts[1][9:]) if len(parts[1]) > 9 else 0.0
                except ValueError:
                    continue
                args = " ".join(parts[2:])
                self.pending.append(Event(wall - self.zero_wall, node, "notify script", f"notify.sh {args}"))
        probes = self.prober.probes[self._probe_pos:]
        self._probe_pos += len(probes)
        for p in probes:
            state = f"served by {p.served_by}" if p.served_by else "error"
            if state != self.last_client:  # only changes: first error, then who serves
                self.last_client = state
                if p.served_by:
                    text = f'HTTP 200 "served by {p.served_by}"'
                    self.pending.append(Event(p.t - self.zero_mono, "client", state, text))
                else:
                    text = f"GET http://{VIP}/ failed ({p.error})"
                    self.pending.append(Event(p.t - self.zero_mono, "client", "no answer", text))

    def _add(self, e: Event) -> None:
        for old in reversed(self.pending):
            if (old.source, old.label, old.text) == (e.source, e.label, e.text) and e.t - old.t < 0.5:
                old.count += 1
                return
        self.pending.append(e)

    def pump(self, final: bool = False) -> None:
        """Print the events older than HOLD seconds (all of them with `final`), in time order."""
        self._collect()
        now = time.time() - self.zero_wall
        self.pending.sort(key=lambda e: e.t)
        ready = [e for e in self.pending if final or e.t < now - HOLD]
        self.pending = [e for e in self.pending if not (final or e.t < now - HOLD)]
        for e in ready:
            key = (e.source, e.label, e.text)
            if key == self._last_printed:  # a burst of identical lines (GARP x5): count, don't repeat
                self._repeat += 1
                continue
            self._flush_repeat()
            self._last_printed = key
            event(e.t, e.source, e.label, e.text + (f"  (x{e.count})" if e.count > 1 else ""))
        if final:
            self._flush_repeat()

    def _flush_repeat(self) -> None:
        if self._repeat:
            say(f"  {'':>9}  {'':<7} {'':<21} {dim(f'... and {self._repeat} more like it')}")
        self._repeat = 0

    def run_until(self, done: Callable[[], bool], timeout: float, linger: float = 0.0) -> bool:
        """Print events until done() holds (then `linger` more seconds) or `timeout` passes."""
        deadline = time.monotonic() + timeout
        ok = False
        while time.monotonic() < deadline:
            self.pump()
            if done():
                ok = True
                break
            time.sleep(0.05)
        end = time.monotonic() + linger
        while time.monotonic() < end:
            self.pump()
            time.sleep(0.05)
        self.pump(final=True)
        return ok


# ------------------------------------------------------------------------------------ the demo
class Interrupted(Exception):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def vip_holders(lab: Lab) -> list[str]:
    return [name for name in NODES if f" {VIP}/" in lab[name].ip("-4", "-o", "addr", "show", "dev", "eth0")]


def vip_holder(lab: Lab) -> str | None:
    return next(iter(vip_holders(lab)), None)


def settled(lab: Lab, prober: Prober, name: str) -> Callable[[], bool]:
    """The election over with `name` MASTER: it alone holds the VIP, and the client's last answer,
    come after that was seen, is from it. Not the first answer from it: at start-up both nodes can be
    MASTER for a moment, and the loser's gratuitous ARPs, when they come last, send the client to a
    node that has just dropped the VIP (until the winner's delayed GARP round, 5 s later)."""
    alone_since: list[float] = []

    def done() -> bool:
        if vip_holders(lab) != [name]:
            alone_since.clear()
            return False
        if not alone_since:
            alone_since.append(time.monotonic())
        last = prober.last()
        return last is not None and last.t > alone_since[0] and last.served_by == name
    return done


def preflight() -> str | None:
    if os.geteuid() != 0:
        return "the demo creates network namespaces: run it as root (sudo make demo)"
    tools = (("nginx", "/usr/sbin/nginx"), ("curl", shutil.which("curl")), ("ip", shutil.which("ip")))
    for tool, path in tools:
        if not path or not os.path.exists(path):
            return f"{tool} is not installed (make demo installs the packages listed in deps/apt.txt)"
    if not (EXAMPLES / CONF).exists():
        return f"{EXAMPLES / CONF} not found: run the demo from a checkout of the repository"
    return None


def remove_leftovers() -> None:
    """Namespaces (and their processes) left by a demo that was killed hard."""
    stale = [ns for ns in list_netns() if ns.startswith(PREFIX)]
    if stale:
        say(dim(f"removing {len(stale)} namespaces left by an earlier demo"))
        kill_netns_processes(stale)
        cleanup_stale(PREFIX)
    for old in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"):
        shutil.rmtree(old, ignore_errors=True)


def demo() -> int:
    problem = preflight()
    if problem:
        say(f"pykeepalived demo: {problem}")
        return 1
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    remove_leftovers()
    work = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
    lab: Lab | None = None
    daemons: dict[str, Daemon] = {}
    nginx: dict[str, Nginx] = {}
    prober: Prober | None = None
    t_start = time.monotonic()
    try:
        say(bold("pykeepalived demo: two nginx web servers share one virtual IP address with VRRP"))
        say(dim("(it all runs in network namespaces on this machine, removed at the end; Ctrl-C is safe)"))
        step(1, "The lab")
        lab = Lab(hosts=[*NODES, "client"], prefix=PREFIX, ipv6=False)
        say(f"  {'node1':<7} {lab['node1'].ipv4!s:<12} nginx + pykeepalived, priority 101 (preferred master)")
        say(f"  {'node2':<7} {lab['node2'].ipv4!s:<12} nginx + pykeepalived, priority 100 (the backup)")
        say(f"  {'client':<7} {lab['client'].ipv4!s:<12} asks http://{VIP}/ every 50 ms")
        say(f"  {'VIP':<7} {VIP:<12} the address clients use; VRRP puts it on the MASTER node")
        say(f"  config  examples/{CONF} (the same file on both nodes, selected by -i node1 / -i node2):")
        say("          check_nginx.sh every second; when it fails, weight -5 lowers node1 to 96 < 100;")
        say("          advert_int 1, auth PASS, notify.sh logs every state change")

        step(2, "Starting nginx on both nodes")
        for name in NODES:
            nginx[name] = Nginx(lab[name], work / f"nginx-{name}").start()
            page = curl(lab["client"], f"http://{lab[name].ipv4}/")
            say(f"  client$ curl http://{lab[name].ipv4}/   ->  {page}")

        step(3, "Starting pykeepalived on both nodes: the VRRP election")
        say("  Both start as BACKUP and listen; one that hears no better advert for 3 x advert_int + skew")
        say("  (3.6 s) becomes MASTER, adds the VIP and sends gratuitous ARPs so the LAN learns its MAC.")
        # the daemons read a private copy of examples/: with enable_script_security, scripts in a
        # checkout owned by a normal user would (rightly) be refused when run as root
        etc = work / "etc"
        etc.mkdir()
        for f in (CONF, "check_nginx.sh", "notify.sh"):
            shutil.copy2(EXAMPLES / f, etc / f)
            os.chown(etc / f, 0, 0)
        notify_logs = {n: work / f"notify-{n}.log" for n in NODES}
        for name in NODES:
            notify_logs[name].touch()
            daemons[name] = Daemon(
                lab[name], etc / CONF, config_id=name, workdir=work / f"ka-{name}", log_file=True,
                env={"NOTIFY_LOG": str(notify_logs[name])},
            ).start()
        prober = Prober(lab["client"], VIP).start()
        tl = Timeline(daemons, notify_logs, prober)
        tl.reset(skip_old=False)
        if not tl.run_until(settled(lab, prober, "node1"), timeout=20, linger=0.5):
            return fail("no master elected", daemons)
        show_state(lab)

        step(4, "nginx dies on node1 (the master); the failover as it happens")
        say("  node1 keeps the VIP until node2 takes over; meanwhile the client gets 'connection refused'.")
        say("  node2 ignores adverts from a master whose priority is lower than its own and takes over")
        say("  when its master down timer (3.6 s after node1's last advert at 101) expires.")
        time.sleep(2)
        tl.reset()
        nginx["node1"].kill()
        event(0.0, "node1", "nginx killed", "kill -9 (master and worker)")
        if not tl.run_until(settled(lab, prober, "node2"), timeout=20, linger=1.0):
            return fail("the client was not served by node2", daemons)
        outage(tl, prober, "node2")
        say("     (detection: up to 1 s, the check's interval; then up to 3.6 s, node2's master down timer)")
        show_state(lab)

        step(5, "nginx comes back on node1: the failback")
        say("  node1's check passes again, its priority returns to 101 > 100: it preempts node2 and takes")
        say("  the VIP back (node2 then sees a better master and returns to BACKUP).")
        time.sleep(2)
        tl.reset()
        nginx["node1"].start()
        event(0.0, "node1", "nginx started", f"{nginx['node1'].name} -c nginx.conf")
        if not tl.run_until(settled(lab, prober, "node1"), timeout=20, linger=1.0):
            return fail("the VIP did not come back to node1", daemons)
        outage(tl, prober, "node1")
        show_state(lab)

        step(6, "Stopping pykeepalived (SIGTERM): masters resign with a priority-0 advert, VIPs are removed")
        prober.stop()
        tl.reset()
        for name in ("node1", "node2"):
            daemons[name].stop()
        tl.run_until(lambda: True, timeout=1, linger=0.3)
        say()
        say("  What notify.sh recorded (keepalived appends TYPE NAME STATE PRIORITY to its command line):")
        for name in NODES:
            for line in notify_logs[name].read_text().splitlines():
                parts = line.split()
                say(f"    {name:<6} {parts[1][:12]}  notify.sh {' '.join(parts[2:])}")
        if (why := frrlab.why_not()) is not None:
            say(dim(f"  (act 2, the routed network with BGP, skipped: {why})"))
        elif not act_two(work, etc):
            return 1
        say()
        say(bold(f"Done in {time.monotonic() - t_start:.0f} s.") + " Config: examples/keepalived.conf.nginx; "
            "tests: tests/e2e/; figures: make bench.")
        return 0
    except Interrupted as exc:
        say()
        say(f"interrupted ({exc}): cleaning up")
        return 130
    finally:
        # ignore further signals while cleaning up, so a second Ctrl-C cannot leave namespaces behind
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if prober is not None:
            prober.stop()
        for d in daemons.values():
            d.stop(timeout=3)
        for n in nginx.values():
            n.kill()
        if lab is not None:
            kill_netns_processes(lab_namespaces(lab))
            lab.close()
        shutil.rmtree(work, ignore_errors=True)
        left = [ns for ns in list_netns() if ns.startswith(PREFIX)]
        say(dim("lab removed" if not left else f"could not remove: {' '.join(left)}"))


def bgp_conf(etc: Path, name: str, priority: int) -> str:
    """Act two's node configuration: the same check, the VIP announced through the node's FRR."""
    return f"""global_defs {{
    router_id {name}
    enable_script_security
    script_user root
}}
vrrp_script chk_nginx {{
    script "{etc / 'check_nginx.sh'}"
    interval 1
    weight -5
}}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 52
    priority {priority}
    advert_int 1
    no_virtual_ipaddress
    track_script {{
        chk_nginx
    }}
    bgp_announce {{
        backup_anchor pka-bgpb
        addresses {{
            {frrlab.VIP4}
        }}
    }}
}}
"""


def router_paths(f: frrlab.Fabric) -> None:
    """The router's BGP paths to the VIP, one line each: AS path, MED, best."""
    out = f.bgp("r", f"show bgp ipv4 unicast {frrlab.VIP4}/32")
    lines = [ln.strip() for ln in out.splitlines()]
    for i, ln in enumerate(lines):
        if re.fullmatch(r"[\d ]+", ln) and i + 2 < len(lines):
            who = f.node_of(lines[i + 1].split()[0])
            say(f"    router: path via {who}, AS path {ln:<18} {lines[i + 2]}")
    if not any(re.fullmatch(r"[\d ]+", ln) for ln in lines):
        say("    router: no path to the VIP")


def act_two(work: Path, etc: Path) -> bool:
    """Act 2: the same nginx pair beyond one L2 segment, the VIP announced with BGP (docs/bgp.md)."""
    vip = frrlab.VIP4
    step(7, "Act 2: the same web service across a routed network, announced with BGP")
    say("  Now the VIP is in no LAN: a router (FRR bgpd, ECMP, BFD) learns it from the nodes' own FRR.")
    say("  pykeepalived puts it on a TUN 'anchor' that FRR redistributes: pka-bgp on the MASTER, and")
    say("  pka-bgpb (MED 200, AS path prepended) on the BACKUP, so the router already has a second path.")
    daemons: dict[str, Daemon] = {}
    nginx: list[Nginx] = []
    prober: Prober | None = None
    with frrlab.fabric(2, lab_prefix=PREFIX + "bgp-") as f:
        try:
            for i, h in enumerate(f.nodes):
                nginx.append(Nginx(h, work / f"nginx-bgp-{h.name}", name=f"nginx-bgp-{h.name}").start())
                daemons[h.name] = Daemon(h, bgp_conf(etc, h.name, 101 - i), workdir=work / f"ka-bgp-{h.name}",
                                         log_file=True).start()
            say(f"  client {f.client.ipv4} -> router -> n1 {f.nodes[0].ipv4} (priority 101), "
                f"n2 {f.nodes[1].ipv4} (100); VIP {vip}")
            prober = Prober(f.client, vip).start()
            try:
                deadline = time.monotonic() + 60
                # n1 MASTER (its path as it is: AS path 65001 alone), n2's backup path learnt as well
                ready = re.compile(r"Paths: \(2 available.*\n\s+65001\n", re.S)
                while not ready.search(f.bgp("r", f"show bgp ipv4 unicast {vip}/32")):
                    if time.monotonic() > deadline:
                        raise TimeoutError("the router did not learn n1's path and the backup's")
                    time.sleep(0.1)
                prober.wait_served_by("n1", time.monotonic(), 10)
            except TimeoutError as exc:
                say(f"  {exc}")
                return False
            say(f"  client$ curl http://{vip}/   ->  {curl(f.client, f'http://{vip}/')}")
            router_paths(f)

            step(8, "pykeepalived on n1 (the MASTER) is killed with -9: no priority-0 advert, no clean-up")
            say("  Its anchor dies with the process: zebra sees the interface go, bgpd withdraws, and the")
            say("  router moves to n2's path at once, before VRRP (3.6 s) even makes n2 MASTER.")
            time.sleep(1)
            t0 = time.monotonic()
            daemons["n1"].kill()
            try:
                t = prober.wait_served_by("n2", t0, 20)
            except TimeoutError as exc:
                say(f"  {exc}")
                return False
            lost = sum(1 for p in prober.since(t0) if p.served_by is None and p.t <= t)
            say(f"  => served by n2 {t - t0:.3f} s after the kill ({lost} failed request(s) of the client)")
            router_paths(f)
            return True
        finally:
            if prober is not None:
                prober.stop()
            for d in daemons.values():
                d.stop(timeout=3)
            for n in nginx:
                n.kill()
            kill_netns_processes(lab_namespaces(f.lab))


def show_state(lab: Lab) -> None:
    holder = vip_holder(lab)
    page = curl(lab["client"], f"http://{VIP}/")
    say(f"  => VIP {VIP} is on {bold(holder or 'no node')};  client$ curl http://{VIP}/  ->  {bold(page)}")


def outage(tl: Timeline, prober: Prober, new: str) -> None:
    """Summarise what the client saw since the phase's zero."""
    probes = prober.since(tl.zero_mono)
    failed = [p for p in probes if p.served_by is None]
    first_new = next((p for p in probes if p.served_by == new), None)
    if first_new is None:
        return
    if failed:
        gap = first_new.t - tl.zero_mono
        n = len(failed)
        say(f"  => the client had no service for {gap:.2f} s ({n} requests failed), then {new} answered")
    else:
        say(f"  => no request failed: the client moved to {new} "
            f"{first_new.t - tl.zero_mono:.2f} s after the change")


def fail(what: str, daemons: dict[str, Daemon]) -> int:
    say(f"demo failed: {what}; the daemons' last lines:")
    for name, d in daemons.items():
        for line in d.logs().splitlines()[-8:]:
            say(f"  {name}: {line}")
    return 1


def main() -> None:
    sys.exit(demo())


if __name__ == "__main__":
    main()
