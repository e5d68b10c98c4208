"""IPVS data plane in a VM (issue 7): this machine's kernel has no ip_vs, so Debian's linux-image-amd64 is
booted under qemu (TCG) with virtme-ng, sharing the host's filesystem. Inside, keepalived 2.2.7 and then
pykeepalived's IpvsBackend program IPVS from the same keepalived.conf, and `ipvsadm -Ln` must read the same
(tests/check/ipvs_vm_driver.py does the work in the VM and reports JSON). The same boot checks the global
LVS keywords (lvs_timeouts, lvs_flush, lvs_flush_on_stop, lvs_sync_daemon untied and tied to a VRRP
instance) against keepalived, KEEPALIVED-MIB's check subtree (enable_snmp_checker: `snmpwalk -On` of
…9586.100.5.3 against a private snmpd in the VM, each daemon in turn: the same lines), and
IpvsBackend.stats() after traffic through a NAT service.

Needs: virtme-ng (`vng`, PyPI) in the venv or PATH, qemu-system-x86, busybox-static, a /boot/vmlinuz-*
with its ip_vs module, ipvsadm and keepalived. Skips with the missing piece named otherwise."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

DRIVER = Path(__file__).with_name("ipvs_vm_driver.py")
# software emulation (no KVM): 442 s measured alone at load 17; `make test` (-n 4, 2 cores) loads CI too
BOOT_TIMEOUT_S = 1200


def _kernel() -> str | None:
    """The newest installed kernel image that has the ip_vs module."""
    for img in sorted(glob.glob("/boot/vmlinuz-*"), reverse=True):
        ver = img.removeprefix("/boot/vmlinuz-")
        if glob.glob(f"/lib/modules/{ver}/kernel/net/netfilter/ipvs/ip_vs.ko*"):
            return img
    return None


def _missing() -> str | None:
    bindir = str(Path(sys.executable).parent)
    path = f"{bindir}:{os.environ.get('PATH', '')}"
    if os.geteuid() != 0:
        return "needs root"
    for tool, pkg in (("vng", "virtme-ng (pip)"), ("virtme-run", "virtme-ng (pip)"),
                      ("qemu-system-x86_64", "qemu-system-x86 (apt)"), ("busybox", "busybox-static (apt)"),
                      ("ipvsadm", "ipvsadm (apt)"), ("keepalived", "keepalived (apt)")):
        if shutil.which(tool, path=path) is None:
            return f"{tool} not found: install {pkg}"
    if _kernel() is None:
        return "no /boot/vmlinuz-* with an ip_vs module: apt-get install linux-image-amd64"
    return None


def _counters(text: str, prefix: str) -> list[int]:
    """The five counters of the `ipvsadm -Ln --stats --exact` line starting with `prefix`."""
    for row in _rows(text):
        if row.startswith(prefix + " "):
            return [int(w) for w in row.split()[-5:]]
    raise AssertionError(f"no {prefix!r} line in\n{text}")


def _rows(text: str) -> list[str]:
    """ipvsadm -Ln lines with runs of blanks collapsed (its columns are padded)."""
    return [re.sub(r"\s+", " ", line.strip()) for line in text.splitlines()]


@pytest.mark.vm
@pytest.mark.timeout(BOOT_TIMEOUT_S + 60)
def test_ipvs_backend_matches_keepalived_in_vm() -> None:
    why = _missing()
    if why:
        pytest.skip(why)
    kernel = _kernel()
    assert kernel is not None
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    t0 = time.monotonic()
    cmd = ["vng", "--disable-kvm", "--force-9p", "--cpus", "1", "--memory", "1G", "-r", kernel,
           "--", sys.executable, str(DRIVER)]
    proc = subprocess.run(cmd,
                          capture_output=True, text=True, timeout=BOOT_TIMEOUT_S, env=env,
                          stdin=subprocess.DEVNULL)
    print(f"VM run took {time.monotonic() - t0:.1f}s")
    m = re.search(r"===RESULT===\n(.*)\n===END===", proc.stdout, re.S)
    assert m, f"no result from the VM (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    res = json.loads(m.group(1))
    print(json.dumps(res, indent=1))  # shown with the failure
    assert "error" not in res, res["error"]

    ka, ours = _rows(res["keepalived"]), _rows(res["ours"])
    assert ours == ka, f"keepalived:\n{res['keepalived']}\npykeepalived:\n{res['ours']}"
    for line in ("TCP 203.0.113.10:80 wrr", "-> 192.0.2.11:80 Masq 1 0 0", "-> 192.0.2.12:8080 Masq 2 0 0",
                 "TCP 203.0.113.11:443 sh (sh-port) persistent 300", "-> 192.0.2.21:443 Route 3 0 0",
                 "FWM 7 rr", "UDP 203.0.113.12:53 wlc ops", "-> 192.0.2.41:53 Masq 5 0 0",
                 "TCP [2001:db8::10]:80 lc persistent 60 mask 64", "-> [2001:db8::11]:80 Masq 1 0 0"):
        assert line in ours, f"{line!r} missing from\n{res['ours']}"
    assert res["empty_before"] and res["dump_equal"], res.get("dump")
    edited = _rows(res["edited"])
    assert "-> 192.0.2.11:80 Masq 7 0 0" in edited
    assert not any("192.0.2.12" in r for r in edited)
    daemon = res["daemon"]
    assert _rows(daemon) == ka, (f"keepalived:\n{res['keepalived']}\npykeepalived daemon:\n{daemon}\n"
                                 f"its log:\n{res.get('pk_log')}")
    for key in ("keepalived_after", "after_clear", "daemon_after"):
        assert not any(r.startswith(("TCP", "UDP", "FWM")) for r in _rows(res[key])), res[key]

    _check_globals(res)
    _check_snmp(res)
    _check_stats(res)
    _check_tied(res)


def _check_snmp(res: dict[str, Any]) -> None:
    """KEEPALIVED-MIB check beside keepalived 2.2.7 (enable_snmp_checker, a private snmpd in the VM):
    `snmpwalk -On` of …9586.100.5.3 while each daemon runs CONF gives the same lines (no traffic yet,
    so the IPVS counters are 0 on both)."""
    ka, pk = res["ka_snmp"], res["pk_snmp"]
    assert len(ka) > 100, ka
    missing, extra = [x for x in ka if x not in pk], [x for x in pk if x not in ka]
    assert pk == ka, f"keepalived only:\n{chr(10).join(missing)}\npykeepalived only:\n{chr(10).join(extra)}"


def _check_globals(res: dict[str, Any]) -> None:
    """lvs_timeouts, lvs_flush, lvs_flush_on_stop and the untied lvs_sync_daemon: as keepalived."""
    for part in ("running_timeout", "running_daemon", "after_timeout", "after_daemon", "after_table"):
        ka, pk = res[f"ka_{part}"], res[f"pk_{part}"]
        assert _rows(pk) == _rows(ka), (part, ka, pk)
    assert "Timeout (tcp tcpfin udp): 7200 60 120" in res["pk_running_timeout"], res["pk_running_timeout"]
    assert res["pk_after_timeout"] == res["boot_timeout"]  # the kernel's values restored at stop
    daemons = res["pk_running_daemon"]
    for state in ("master", "backup"):
        assert f"{state} sync daemon (mcast=d0, syncid=9" in daemons, daemons
    assert "sync daemon" not in res["pk_after_daemon"]
    for table in ("keepalived", "daemon"):
        assert "198.51.100.99" not in res[table]  # lvs_flush: the foreign service made before start
    assert not any(r.startswith("TCP") for r in _rows(res["pk_after_table"]))  # lvs_flush_on_stop


def _check_stats(res: dict[str, Any]) -> None:
    assert res["client_ok"] == 6, res
    st = res["stats"][res["stats_key"]]
    total = st["total"]
    assert total[0] >= 6 and all(v > 0 for v in total), st  # conns, in/out packets, in/out bytes
    assert total == _counters(res["ipvsadm_stats"], "TCP 203.0.113.10:80"), (st, res["ipvsadm_stats"])
    for dest, counters in st["dests"].items():
        assert counters[0] > 0 and counters == _counters(res["ipvsadm_stats"], f"-> {dest}"), (dest, st)
    text = res["genl_daemon_text"]
    for token in ("backup sync daemon (mcast=d0, syncid=42", "maxlen=1200", "group=239.9.9.9", "port=8850",
                  "ttl=3"):
        assert token in text, text
    assert res["genl_daemons"] == [{"state": 2, "ifname": "d0", "syncid": 42, "maxlen": 1200,
                                    "group": "239.9.9.9", "port": 8850, "ttl": 3}], res["genl_daemons"]
    assert "sync daemon" not in res["genl_daemon_after"]


def _check_tied(res: dict[str, Any]) -> None:
    """Tied to VI_1: backup daemon at start, master once VI_1 is MASTER (pykeepalived: backup again in
    FAULT), nothing after stop; the lines read as keepalived's."""
    ka, pk = res["ka_tied_seen"], res["pk_tied_seen"]
    backup, master = "backup sync daemon (mcast=d0, syncid=51", "master sync daemon (mcast=d0, syncid=51"
    assert [s for s in ka if s] == [s for s in pk if s][:2], (ka, pk)
    kinds = ["backup" if s.startswith(backup) else "master" if s.startswith(master) else s for s in pk if s]
    assert kinds == ["backup", "master", "backup"], (pk, res["pk_tied_log"])
    assert "sync daemon" not in res["ka_tied_after"] and "sync daemon" not in res["pk_tied_after"]
