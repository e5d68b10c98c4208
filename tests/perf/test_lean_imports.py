"""Lean processes: what the parent and the VRRP child import (each checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_vrrp_child_loads_rtnetlink_only_and_pyroute2_stays_whole_on_demand() -> None:
    out = _run("""
        import sys
        import pykeepalived.daemon.vrrp_child
        heavy = [m for m in ("pyroute2.ndb.main", "pyroute2.ipdb", "pyroute2.conntrack",
                             "prometheus_client", "aiosmtplib", "http.server")
                 if m in sys.modules]
        print("heavy", heavy)
        from pykeepalived.linux.rtnl import AsyncIPRoute
        import pyroute2
        print("version", pyroute2.__version__)       # the real package __init__ runs on demand
        from pyroute2 import IPVS, AsyncIPRoute as Full
        print("same", Full is AsyncIPRoute, IPVS.__name__)
    """)
    assert "heavy []" in out
    assert "version 0." in out
    assert "same True IPVS" in out


def test_parent_decides_roles_without_loading_the_configuration_code(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n"
                    " virtual_ipaddress {\n  192.0.2.100\n }\n}\n"
                    "virtual_server 192.0.2.100 80 {\n real_server 192.0.2.10 80 {\n }\n}\n")
    out = _run(f"""
        import sys
        from pykeepalived.options import parse_args
        from pykeepalived.daemon.main import parent_roles
        opts = parse_args(["-f", {str(conf)!r}])
        print("roles", parent_roles(opts))
        print("config loaded", [m for m in sys.modules if m.startswith("pykeepalived.config")])
        import pykeepalived.daemon.parent
        print("asyncio in the parent", "asyncio" in sys.modules)  # it runs no loop: ~6 MB saved
        opts = parse_args(["-f", {str(conf)!r}, "-P"])
        print("vrrp only", parent_roles(opts))
    """)
    assert "roles ['vrrp', 'checker']" in out
    assert "config loaded []" in out
    assert "vrrp only ['vrrp']" in out
    assert "asyncio in the parent False" in out
