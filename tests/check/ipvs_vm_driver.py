"""Runs INSIDE the test VM (tests/check/test_ipvs_vm.py), as root, on a kernel with ip_vs.

1. keepalived 2.2.7 (-C, the checker only) programs IPVS from CONF; `ipvsadm -Ln` is recorded; keepalived
   is stopped (it removes its services).
2. pykeepalived maps the same CONF (check/from_config.py), plans the table with every real server up and
   applies it through IpvsBackend (generic netlink); `ipvsadm -Ln` is recorded, and IpvsBackend.dump()
   must give back the table it applied.
3. A weight edit, a removed destination and the final removal go through IpvsBackend too.
4. The real `pykeepalived -C` daemon (data plane chosen automatically: IPVS) programs the same table and
   removes it on SIGTERM.
5. Global LVS keywords (CONF's global_defs), for keepalived and pykeepalived alike: `ipvsadm -L --timeout`
   and `--daemon` while running and after stop, a foreign service made before start (lvs_flush) and one
   made while running (lvs_flush_on_stop). With CONF's enable_snmp_checker, `snmpwalk -On` of
   KEEPALIVED-MIB check (…9586.100.5.3) against a private snmpd while each daemon runs.
6. Traffic: a client netns → the VM (director) → a real-server netns through the NAT service; the
   IpvsBackend.stats() counters against `ipvsadm -Ln --stats --exact`; a sync daemon started with every
   attribute through ipvs_genl, read back by `ipvsadm -L --daemon` and ipvs_genl.daemons().
7. lvs_sync_daemon tied to a VRRP instance: keepalived and pykeepalived (-P) each run it; the daemon
   must go backup → master (the instance wins), pykeepalived's back to backup when a track_file puts
   the instance in FAULT, and be gone after stop.
Prints one JSON object between markers on stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

CONF = """
global_defs {
    router_id vmtest
    lvs_timeouts tcp 7200 tcpfin 60 udp 120
    lvs_flush
    lvs_flush_on_stop
    lvs_sync_daemon d0 id 9 maxlen 1400 port 8849 ttl 2 group 239.1.2.3
    enable_snmp_checker
    snmp_socket unix:/tmp/vm_snmp/agentx
}
virtual_server 203.0.113.10 80 {
    delay_loop 3600
    warmup 3600
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 192.0.2.11 80 {
        weight 1
        MISC_CHECK {
            misc_path /bin/true
        }
    }
    real_server 192.0.2.12 8080 {
        weight 2
        uthreshold 100
        lthreshold 10
        MISC_CHECK {
            misc_path /bin/true
        }
    }
}
virtual_server 203.0.113.11 443 {
    delay_loop 3600
    warmup 3600
    lb_algo sh
    sh-port
    lb_kind DR
    persistence_timeout 300
    protocol TCP
    real_server 192.0.2.21 443 {
        weight 3
        MISC_CHECK {
            misc_path /bin/true
        }
    }
}
virtual_server fwmark 7 {
    delay_loop 3600
    warmup 3600
    lb_algo rr
    lb_kind TUN
    real_server 192.0.2.31 {
        MISC_CHECK {
            misc_path /bin/true
        }
    }
}
virtual_server 203.0.113.12 53 {
    delay_loop 3600
    warmup 3600
    lb_algo wlc
    ops
    lb_kind NAT
    protocol UDP
    real_server 192.0.2.41 53 {
        weight 5
        MISC_CHECK {
            misc_path /bin/true
        }
    }
}
virtual_server 2001:db8::10 80 {
    delay_loop 3600
    warmup 3600
    lb_algo lc
    lb_kind NAT
    protocol TCP
    persistence_timeout 60
    persistence_granularity 64
    real_server 2001:db8::11 80 {
        MISC_CHECK {
            misc_path /bin/true
        }
    }
}
"""
N_SERVICES = 5
N_DESTS = 6


TIED = """
global_defs {
    router_id vmtied
    lvs_sync_daemon d0 inst VI_1
}
track_file tf {
    file /tmp/vm_tf
    weight 0
}
vrrp_instance VI_1 {
    interface d0
    state BACKUP
    virtual_router_id 51
    priority 100
    advert_int %d
    track_file {
        tf
    }
    virtual_ipaddress {
        203.0.113.50/32
    }
}
"""
# the real server: one process answering HTTP on both real-server ports
RS_SERVER = r"""
import socket, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.recv(1024); c.sendall(b"HTTP/1.0 200 OK\r\n\r\nok\n"); c.close()
threading.Thread(target=serve, args=(8080,), daemon=True).start()
serve(80)
"""
CLIENT = r"""
import socket, sys
ok = 0
for _ in range(int(sys.argv[1])):
    s = socket.create_connection(("203.0.113.10", 80), timeout=5); s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    ok += b"ok" in s.recv(1024); s.close()
print(ok)
"""


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def ipvsadm(*opts: str) -> str:
    return run("ipvsadm", "-Ln", *opts)


def setup_net() -> None:
    """client netns cl (198.51.100.2) — d0 198.51.100.1 + VIPs | b0 192.0.2.1 — netns rs (.11, .12)."""
    for cmd in ("netns add cl", "netns add rs", "link add d0 type veth peer c0 netns cl",
                "link add b0 type veth peer r0 netns rs", "addr add 198.51.100.1/24 dev d0",
                "addr add 203.0.113.10/32 dev d0", "addr add 192.0.2.1/24 dev b0", "link set d0 up",
                "link set b0 up", "-n cl addr add 198.51.100.2/24 dev c0", "-n cl link set c0 up",
                "-n cl link set lo up", "-n cl route add default via 198.51.100.1",
                "-n rs addr add 192.0.2.11/24 dev r0", "-n rs addr add 192.0.2.12/24 dev r0",
                "-n rs link set r0 up", "-n rs link set lo up", "-n rs route add default via 192.0.2.1"):
        run("ip", *cmd.split())
    run("sysctl", "-qw", "net.ipv4.ip_forward=1")


def globals_state(tag: str, out: dict[str, object]) -> None:
    out[f"{tag}_timeout"] = run("ipvsadm", "-L", "--timeout")
    out[f"{tag}_daemon"] = run("ipvsadm", "-L", "--daemon")


def n_services(text: str) -> int:
    return sum(1 for line in text.splitlines() if line[:3] in ("TCP", "UDP", "FWM", "SCT"))


def daemon_table(exe: str, conf: str, tag: str, out: dict[str, object]) -> str:
    """Start a daemon (-C: checker only), read `ipvsadm -Ln` once it has programmed every service, stop it.
    Around it, the global keywords: a foreign service before start and one while running, the timeouts
    and sync daemons while running and after stop (keys `{tag}_...` of `out`)."""
    run("ipvsadm", "-A", "-t", "198.51.100.99:80")
    logf = open(f"/tmp/{tag}_daemon.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([exe, "-n", "-l", "-C", "-G", "-f", conf, "-p", f"/tmp/{tag}.pid",
                             "-c", f"/tmp/{tag}_check.pid", "-r", f"/tmp/{tag}_vrrp.pid"],
                            stdout=logf, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180  # python under TCG: a daemon takes ~40 s to start
    text = ""
    while time.monotonic() < deadline:
        text = ipvsadm()
        if n_services(text) == N_SERVICES and text.count("->") == 1 + N_DESTS:  # + the header line
            break
        time.sleep(0.2)
    time.sleep(0.5)
    text = ipvsadm()
    out[f"{tag}_snmp"] = snmp_walk()
    globals_state(f"{tag}_running", out)
    run("ipvsadm", "-A", "-t", "198.51.100.98:80")
    proc.terminate()
    proc.wait(20)
    logf.close()
    with open(f"/tmp/{tag}_daemon.log") as f:
        out[f"{tag}_log"] = f.read()[-6000:]
    globals_state(f"{tag}_after", out)
    out[f"{tag}_after_table"] = ipvsadm()
    run("ipvsadm", "-C")
    return text


SNMP_CHECK = ".1.3.6.1.4.1.9586.100.5.3"


def start_snmpd() -> subprocess.Popen[bytes]:
    """A private snmpd (AgentX master on /tmp/vm_snmp/agentx) for KEEPALIVED-MIB check's walks."""
    d = "/tmp/vm_snmp"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/snmpd.conf", "w") as f:
        f.write(f"master agentx\nagentXSocket unix:{d}/agentx\nagentaddress udp:127.0.0.1:1161\n"
                "rocommunity public 127.0.0.1\n")
    run("ip", "link", "set", "lo", "up")
    env = dict(os.environ, SNMP_PERSISTENT_DIR=f"{d}/persist", MIBS="", MIBDIRS="/nonexistent",
               SNMPCONFPATH=d)
    proc = subprocess.Popen(["snmpd", "-f", "-C", "-c", f"{d}/snmpd.conf", "-Lf", f"{d}/snmpd.log"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not os.path.exists(f"{d}/agentx") and time.monotonic() < deadline:
        time.sleep(0.1)
    return proc


def snmp_walk() -> list[str]:
    """`snmpwalk -On` of KEEPALIVED-MIB check, once the daemon's subagent answers (up to 60 s)."""
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = subprocess.run(["snmpwalk", "-v2c", "-c", "public", "-On", "-t", "5", "-r", "1", "127.0.0.1:1161",
                            SNMP_CHECK], capture_output=True, text=True, env=dict(os.environ, MIBS=""))
        lines = [x for x in r.stdout.splitlines() if x.startswith(SNMP_CHECK)]
        if lines:
            break
        time.sleep(0.5)
    return lines


def traffic_and_stats(be: object, key: object) -> dict[str, object]:
    """Connections through the NAT service, then IpvsBackend.stats() next to ipvsadm's counters."""
    from pykeepalived.linux import ipvs_genl

    out: dict[str, object] = {}
    srv = subprocess.Popen(["ip", "netns", "exec", "rs", sys.executable, "-c", RS_SERVER])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            probe = subprocess.run(["ip", "netns", "exec", "rs", sys.executable, "-c",
                                    "import socket; socket.create_connection(('192.0.2.12', 8080), 1)"],
                                   capture_output=True)
            if probe.returncode == 0:
                break
            time.sleep(0.3)
        out["client_ok"] = int(run("ip", "netns", "exec", "cl", sys.executable, "-c", CLIENT, "6"))
    finally:
        srv.kill()
        srv.wait()
    # the kernel sums its per-cpu counters into what it reports every 2 s (the rate estimator)
    deadline = time.monotonic() + 15
    while True:
        stats = asyncio.run(be.stats())  # type: ignore[attr-defined]
        total = stats[key].total  # type: ignore[index]
        if total.conns >= 6 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    out["stats"] = {str(k): {"total": [getattr(v.total, f) for f in FIELDS],
                             "dests": {f"{d.addr}:{d.port}": [getattr(c, f) for f in FIELDS]
                                       for d, c in v.dests.items()}}
                    for k, v in stats.items()}
    out["ipvsadm_stats"] = ipvsadm("--stats", "--exact")
    out["stats_key"] = str(key)

    async def syncd() -> None:
        out["daemons_before"] = await be.call(ipvs_genl.daemons)  # type: ignore[attr-defined]
        await be.call(ipvs_genl.new_daemon, ipvs_genl.IP_VS_STATE_BACKUP, "d0", 42,  # type: ignore[attr-defined]
                      1200, 8850, 3, "239.9.9.9")
        out["genl_daemons"] = await be.call(ipvs_genl.daemons)  # type: ignore[attr-defined]
        out["genl_daemon_text"] = run("ipvsadm", "-L", "--daemon")
        await be.call(ipvs_genl.del_daemon, ipvs_genl.IP_VS_STATE_BACKUP, 42)  # type: ignore[attr-defined]
        out["genl_daemon_after"] = run("ipvsadm", "-L", "--daemon")

    asyncio.run(syncd())
    return out


FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")


def tied(exe: str, tag: str, advert: int, fault: bool) -> dict[str, object]:
    """A VRRP-only daemon (-P) with lvs_sync_daemon tied to VI_1: the daemon states seen over time."""
    conf = f"/tmp/vm_tied_{tag}.conf"
    with open(conf, "w") as f:
        f.write(TIED % advert)
    with open("/tmp/vm_tf", "w") as f:
        f.write("0\n")
    logf = open(f"/tmp/{tag}_tied.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([exe, "-n", "-l", "-P", "-G", "-f", conf, "-p", f"/tmp/{tag}t.pid",
                             "-c", f"/tmp/{tag}t_check.pid", "-r", f"/tmp/{tag}t_vrrp.pid"],
                            stdout=logf, stderr=subprocess.STDOUT)
    seen: list[str] = []

    def sample(until: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = run("ipvsadm", "-L", "--daemon").strip()
            if not seen or seen[-1] != text:
                seen.append(text)
            if until in text:
                return
            time.sleep(0.1)

    try:
        sample("master sync daemon", 180)
        if fault:
            with open("/tmp/vm_tf", "w") as f:
                f.write("1\n")
            sample("backup sync daemon", 20)
    finally:
        proc.terminate()
        proc.wait(20)
        logf.close()
    with open(f"/tmp/{tag}_tied.log") as f:
        log = f.read()[-6000:]
    return {f"{tag}_tied_seen": seen, f"{tag}_tied_after": run("ipvsadm", "-L", "--daemon"),
            f"{tag}_tied_log": log}


async def ours(conf: str) -> tuple[dict[str, object], object, object, object]:
    from pykeepalived.check.from_config import services_from_model
    from pykeepalived.check.state import VirtualServerState
    from pykeepalived.config import load_config
    from pykeepalived.linux.ipvs import IpvsBackend
    from pykeepalived.lvs.model import Dest
    from pykeepalived.lvs.plan import AddDest, DelDest, EditDest, plan

    model, _ = load_config(conf, "vm")
    specs = services_from_model(model).services
    desired = {s.key: VirtualServerState(s).desired() for s in specs}
    be = IpvsBackend()
    out: dict[str, object] = {}
    before = await be.dump()
    out["empty_before"] = not before
    await be.apply(plan(desired, before))
    out["ours"] = ipvsadm()
    dumped = await be.dump()
    out["dump_equal"] = dumped == desired
    if dumped != desired:
        out["dump"] = repr(dumped)
        out["desired"] = repr(desired)
    key = specs[0].key
    d = desired[key].dests
    first, second = list(d.values())
    await be.apply([EditDest(key, Dest(first.addr, first.port, 7, first.forwarding)),
                    DelDest(key, second)])
    out["edited"] = ipvsadm()
    await be.apply([EditDest(key, first), AddDest(key, second)])  # back, for the traffic
    return out, be, key, desired


async def ours_clear(be: object) -> str:
    from pykeepalived.lvs.plan import plan

    try:
        await be.apply(plan({}, await be.dump()))  # type: ignore[attr-defined]
        return ipvsadm()
    finally:
        be.close()  # type: ignore[attr-defined]


def main() -> None:
    conf = "/tmp/vm_keepalived.conf"
    with open(conf, "w") as f:
        f.write(CONF)
    subprocess.run(["modprobe", "ip_vs"], check=True)
    res: dict[str, object] = {"kernel": os.uname().release}
    try:
        setup_net()
        snmpd = start_snmpd()
        globals_state("boot", res)
        res["keepalived"] = daemon_table("keepalived", conf, "ka", res)
        res["keepalived_after"] = res["ka_after_table"]
        part, be, key, desired = asyncio.run(ours(conf))
        res.update(part)
        res["after_clear"] = asyncio.run(ours_clear(be))
        # the whole pykeepalived daemon (parent + checker child) with the IPVS data plane chosen by `auto`
        exe = os.path.join(os.path.dirname(sys.executable), "pykeepalived")
        res["daemon"] = daemon_table(exe, conf, "pk", res)
        res["daemon_after"] = res["pk_after_table"]
        snmpd.terminate()
        t0 = time.monotonic()
        res.update(tied("keepalived", "ka", 1, False))
        res.update(tied(exe, "pk", 2, True))
        res["t_tied"] = time.monotonic() - t0
        # last, as its connections stay in IPVS's table (InActConn) for minutes
        t0 = time.monotonic()
        from pykeepalived.linux.ipvs import IpvsBackend
        from pykeepalived.lvs.plan import plan

        be = IpvsBackend()
        asyncio.run(be.apply(plan(desired, {})))  # type: ignore[arg-type]
        res.update(traffic_and_stats(be, key))
        asyncio.run(ours_clear(be))
        res["t_stats"] = time.monotonic() - t0
    except Exception as exc:  # reported to the test, which fails with it
        import traceback

        res["error"] = f"{exc!r}\n{traceback.format_exc()}"
    print("===RESULT===")
    print(json.dumps(res))
    print("===END===")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
