"""A vrrp_sync_group's own `smtp_alert`: the group mails on its transitions although the global
default (smtp_alert false) keeps its instances quiet, the same mails from keepalived 2.2.7 and
pykeepalived (the group's setting is the group's only: its members still follow the global one)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.daemon.trackers import ScriptResolver, notify_scripts
from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, dump_logs, wait_for

SINK = str(Path(__file__).parents[1] / "fidelity" / "smtp_sink.py")

GLOBALS = """global_defs {{
    router_id grp
    notification_email {{
        ops@example.com
    }}
    notification_email_from ka@example.com
    smtp_server {server} 2525
    smtp_connect_timeout 5
    smtp_alert false
}}
vrrp_sync_group G1 {{
    group {{
        VI_1
        VI_2
    }}
    smtp_alert{value}
}}
vrrp_sync_group G2 {{
    group {{
        VI_3
        VI_4
    }}
}}
"""
INSTANCES = "".join(f"""vrrp_instance VI_{i} {{
    state BACKUP
    interface eth0
    virtual_router_id {50 + i}
    priority 150
    advert_int 1
    virtual_ipaddress {{
        192.0.2.{100 + i}/24
    }}
}}
""" for i in range(1, 5))


def conf_text(server: object, value: str) -> str:
    return GLOBALS.format(server=server, value=value) + INSTANCES


def test_group_smtp_alert_overrides_global_default(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    values = {"": True, " true": True, " no": False}
    for value, want in values.items():
        conf.write_text(conf_text("192.0.2.9", value))
        model, _ = load_config(str(conf))
        alerts = {k: v.smtp_alert for k, v in notify_scripts(model, ScriptResolver(model)).items()}
        assert alerts[("GROUP", "G1")] is want
        assert alerts[("GROUP", "G2")] is False
        assert not any(alerts[("INSTANCE", f"VI_{i}")] for i in range(1, 5))


@pytest.mark.netns
@pytest.mark.parametrize("impl", ["ka", "py"])
def test_group_mails_as_keepalived(lab: Lab, nodes: list[Node], impl: str) -> None:
    client = lab["client"]
    n = Node(lab["n1"], "", impl=impl)
    mails = n.dir / "mails.jsonl"
    srv = client.popen([sys.executable, SINK, str(client.ipv4), "2525", str(mails)])
    try:
        wait_for(mails.exists, 10)
        n.conf.write_text(conf_text(client.ipv4, ""))
        nodes.append(n)
        n.start()
        wait_for(lambda: n.has("192.0.2.101") and n.has("192.0.2.104"), 15)
        wait_for(lambda: "MASTER" in mails.read_text(), 10)
        subjects = [line for m in mails.read_text().splitlines()
                    for line in json.loads(m)["data"].split("\r\n") if line.startswith("Subject: ")]
        assert subjects == ["Subject: [grp] VRRP Group G1 - Entering BACKUP state",
                            "Subject: [grp] VRRP Group G1 - Entering MASTER state"], dump_logs(n)
    finally:
        srv.kill()
        srv.wait()
