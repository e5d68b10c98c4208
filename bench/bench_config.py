"""Parse+check time for a generated keepalived.conf with 1,000 vrrp_instances and 1,000 real_servers."""

from __future__ import annotations

import os
import shutil
import subprocess
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


def main() -> list[dict[str, object]]:
    from pykeepalived.config.check import run_config_test

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
        }
    ]


def _time(fn: object) -> float:
    t = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t


if __name__ == "__main__":
    for row in main():
        print(row)
