"""Lean processes: what the VRRP child imports, what the parent preloads for its children (each checked
in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_vrrp_child_loads_rtnetlink_only_and_pyroute2_stays_whole_on_demand() -> None:
    out = _run("""
        import sys
        import pykeepalived.daemon.vrrp.vrrp_child
        heavy = [m for m in ("pyroute2.ndb.main", "pyroute2.ipdb", "pyroute2.conntrack",
                             "prometheus_client", "aiosmtplib", "http.server",
                             "pykeepalived.control.snmp_vrrp", "pykeepalived.snmp.mib")
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


def test_parent_preloads_what_its_children_run_and_freezes_it() -> None:
    """The parent imports its children's code before forking them (daemon/parent/forkchild.py), only for
    the roles it starts, and leaves it to the collector's permanent generation."""
    out = _run("""
        import gc, sys
        from pykeepalived.daemon.parent.forkchild import preload
        import pykeepalived.daemon.parent.watchdog
        print("before", "pykeepalived.daemon.vrrp.vrrp_child" in sys.modules, gc.get_freeze_count())
        preload(["vrrp"])
        print("vrrp", "pykeepalived.daemon.vrrp.vrrp_child" in sys.modules)
        print("checker", "pykeepalived.daemon.checker.checker_child" in sys.modules)
        print("frozen", gc.get_freeze_count() > 10000)
    """)
    assert "before False 0" in out
    assert "vrrp True" in out
    assert "checker False" in out
    assert "frozen True" in out


def test_the_daemon_imports_with_the_collector_off_until_the_parent_freezes_its_heap() -> None:
    """cli.py turns the collector off before importing the daemon (no collection walks the ~65,000
    objects the imports create); preload freezes them without collecting and turns it back on."""
    out = _run("""
        import gc, sys
        from pykeepalived.cli import main
        rc = main(["-n", "-f", "/nonexistent/keepalived.conf"])  # the parent stops at the missing file
        print("rc", rc, "enabled", gc.isenabled(), "full", gc.get_stats()[2]["collections"])
        from pykeepalived.daemon.parent.forkchild import preload
        preload(["vrrp"])
        print("after", gc.isenabled(), gc.get_stats()[2]["collections"], gc.get_freeze_count() > 10000)
    """)
    assert "rc 6 enabled False full 0" in out
    assert "after True 0 True" in out


def test_checker_child_loads_the_snmp_code_only_when_enabled() -> None:
    """The checker child imports its SNMP subtree and AgentX (control/snmp_check.py) only with
    enable_snmp_checker or -x, as the VRRP child does for its MIBs."""
    out = _run("""
        import sys
        import pykeepalived.daemon.checker.checker_child
        print("heavy", [m for m in ("pykeepalived.control.snmp_check", "pykeepalived.snmp.mib",
                                    "pykeepalived.control.snmp_subagent") if m in sys.modules])
    """)
    assert "heavy []" in out


def test_a_vrrp_only_configuration_does_not_import_the_lvs_configuration_model(tmp_path) -> None:
    """The LVS records and their builder (config/model_lvs.py, build_lvs.py: ~20 ms of import) are
    imported only for a file with LVS keywords: not by the parent reading a VRRP-only file, nor by the
    VRRP child it preloads; a virtual_server brings them in."""
    conf = tmp_path / "keepalived.conf"
    conf.write_text("vrrp_instance VI_1 {\n interface lo\n virtual_router_id 51\n priority 100\n"
                    " virtual_ipaddress {\n  192.0.2.10/24\n }\n}\n")
    lvs = tmp_path / "lvs.conf"
    lvs.write_text("virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2 80 {\n"
                   "  TCP_CHECK {\n  }\n }\n}\n")
    out = _run(f"""
        import sys
        import pykeepalived.cli
        from pykeepalived.config.load import load_config
        from pykeepalived.daemon.parent.forkchild import preload
        lvs = ("pykeepalived.config.model_lvs", "pykeepalived.config.build_lvs")
        model, diags = load_config({str(conf)!r})
        preload(["vrrp"])
        print("vrrp", len(model.vrrp_instances), [m for m in lvs if m in sys.modules])
        model, diags = load_config({str(lvs)!r})
        print("lvs", len(model.virtual_servers), [m for m in lvs if m in sys.modules])
        from pykeepalived.config.model import TcpCheck
        print("check", type(model.virtual_servers[0].real_servers[0].checkers[0]) is TcpCheck)
    """)
    assert "vrrp 1 []" in out
    assert "lvs 1 ['pykeepalived.config.model_lvs', 'pykeepalived.config.build_lvs']" in out
    assert "check True" in out
