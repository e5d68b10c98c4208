"""Runs INSIDE the test VM (tests/check/test_ipvs_vm.py), as root, on a kernel with ip_vs.

1. keepalived 2.2.7 (-C, the checker only) programs IPVS from CONF; `ipvsadm -Ln` is recorded; keepalived
   is stopped (it removes its services).
2. pykeepalived maps the same CONF (check/from_config.py), plans the table with every real server up and
   applies it through IpvsBackend (generic netlink); `ipvsadm -Ln` is recorded, and IpvsBackend.dump()
   must give back the table it applied.
3. A weight edit, a removed destination and the final removal go through IpvsBackend too.
4. The real `pykeepalived -C` daemon (data plane chosen automatically: IPVS) programs the same table and
   removes it on SIGTERM.
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
        TCP_CHECK {
            connect_port 80
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


def ipvsadm() -> str:
    return subprocess.run(["ipvsadm", "-Ln"], check=True, capture_output=True, text=True).stdout


def n_services(text: str) -> int:
    return sum(1 for line in text.splitlines() if line[:3] in ("TCP", "UDP", "FWM", "SCT"))


def daemon_table(exe: str, conf: str, tag: str) -> str:
    """Start a daemon (-C: checker only), read `ipvsadm -Ln` once it has programmed every service, stop it."""
    proc = subprocess.Popen([exe, "-n", "-l", "-C", "-G", "-f", conf, "-p", f"/tmp/{tag}.pid",
                             "-c", f"/tmp/{tag}_check.pid", "-r", f"/tmp/{tag}_vrrp.pid"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    text = ""
    while time.monotonic() < deadline:
        text = ipvsadm()
        if n_services(text) == N_SERVICES and text.count("->") == 5 + 3:
            break
        time.sleep(0.2)
    time.sleep(0.5)
    text = ipvsadm()
    proc.terminate()
    proc.wait(20)
    return text


async def ours(conf: str) -> dict[str, object]:
    from pykeepalived.check.from_config import services_from_model
    from pykeepalived.check.state import VirtualServerState
    from pykeepalived.config import load_config
    from pykeepalived.linux.ipvs import IpvsBackend
    from pykeepalived.lvs.model import Dest
    from pykeepalived.lvs.plan import DelDest, EditDest, plan

    model, _ = load_config(conf, "vm")
    specs = services_from_model(model).services
    desired = {s.key: VirtualServerState(s).desired() for s in specs}
    be = IpvsBackend()
    out: dict[str, object] = {}
    try:
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
        await be.apply(plan({}, await be.dump()))
        out["after_clear"] = ipvsadm()
    finally:
        be.close()
    return out


def main() -> None:
    conf = "/tmp/vm_keepalived.conf"
    with open(conf, "w") as f:
        f.write(CONF)
    subprocess.run(["modprobe", "ip_vs"], check=True)
    res: dict[str, object] = {"kernel": os.uname().release}
    try:
        res["keepalived"] = daemon_table("keepalived", conf, "ka")
        res["keepalived_after"] = ipvsadm()
        res.update(asyncio.run(ours(conf)))
        # the whole pykeepalived daemon (parent + checker child) with the IPVS data plane chosen by `auto`
        exe = os.path.join(os.path.dirname(sys.executable), "pykeepalived")
        res["daemon"] = daemon_table(exe, conf, "pk")
        res["daemon_after"] = ipvsadm()
    except Exception as exc:  # reported to the test, which fails with it
        import traceback

        res["error"] = f"{exc!r}\n{traceback.format_exc()}"
    print("===RESULT===")
    print(json.dumps(res))
    print("===END===")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
