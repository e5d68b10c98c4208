"""Parse+check time for a generated keepalived.conf with 1,000 vrrp_instances and 1,000 real_servers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time


def generate(n: int = 1000) -> str:
    out = ["global_defs {\n    router_id bench\n}\n"]
    for i in range(n):
        out.append(
            f"vrrp_instance VI_{i} {{\n    state BACKUP\n    interface eth0\n"
            f"    virtual_router_id {i % 255 + 1}\n"
            f"    priority 100\n    advert_int 1\n"
            f"    virtual_ipaddress {{\n        10.{i // 250}.{i % 250}.1/24\n"
            "    }\n}\n"
        )
    out.append("virtual_server 192.0.2.1 80 {\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n")
    for i in range(n):
        out.append(
            f"    real_server 10.200.{i // 250}.{i % 250 + 1} 80 {{\n        weight 1\n"
            "        TCP_CHECK {\n            connect_timeout 3\n        }\n    }\n"
        )
    out.append("}\n")
    return "".join(out)


# ~SEQ lines that expand to 10^6 lines (issue 20.7: the first took 40 s, keepalived 3.8 s); nested, as
# keepalived has no limit on one ~SEQ either
SEQ_FILES = {
    "10^6 unknown keywords": "~SEQ(a,1,1000) ~SEQ(b,1,1000) unknown_${a}_$b\n",
    "10^6 global_defs lines": "global_defs {\n~SEQ(a,1,1000) ~SEQ(b,1,1000) router_id r_${a}_$b\n}\n",
    "10^6 virtual_ipaddress entries": (
        "vrrp_instance VI_1 {\n state BACKUP\n interface lo\n virtual_router_id 1\n priority 100\n"
        " virtual_ipaddress {\n~SEQ(a,0,15) ~SEQ(b,0,255) ~SEQ(c,0,243) 10.${a}.${b}.${c}/32\n }\n}\n"
    ),
}


def seq_rows() -> list[dict[str, object]]:
    """`-t` of each SEQ_FILES file, ours and keepalived's, as commands (their output included)."""
    rows: list[dict[str, object]] = []
    for name, text in SEQ_FILES.items():
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as fh:
            fh.write(text)
        try:
            ours = _time(lambda: subprocess.run([sys.executable, "-m", "pykeepalived", "-t", "-f", fh.name],
                                                stderr=subprocess.DEVNULL))
            theirs = None
            if shutil.which("keepalived") and os.geteuid() == 0:
                theirs = _time(lambda: subprocess.run(["keepalived", "-t", "-f", fh.name],
                                                      stderr=subprocess.DEVNULL))
        finally:
            os.unlink(fh.name)
        rows.append({"name": f"config -t, ~SEQ: {name}", "value": round(ours, 2), "unit": "s",
                     "keepalived": None if theirs is None else round(theirs, 2)})
    return rows


def main() -> list[dict[str, object]]:
    from pykeepalived.configtest import run_config_test

    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as fh:
        fh.write(generate())
    try:
        best = min(
            _time(lambda: run_config_test(fh.name, "bench", interfaces={"eth0", "lo"})) for _ in range(3)
        )
        theirs = None
        if shutil.which("keepalived") and os.geteuid() == 0:
            theirs = _time(lambda: subprocess.run(["keepalived", "-t", "-f", fh.name], capture_output=True))
    finally:
        os.unlink(fh.name)
    return [
        {
            "name": "config parse+check (1000 vrrp_instances + 1000 real_servers)",
            "value": round(best, 3),
            "unit": "s",
            "keepalived": None if theirs is None else round(theirs, 3),
            "goal": "< 0.5 s",
        },
        *seq_rows(),
    ]


def _time(fn: object) -> float:
    t = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t


if __name__ == "__main__":
    for row in main():
        print(row)
