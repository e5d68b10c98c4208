"""Every shipped sample parses; its model is pinned by a golden JSON file (UPDATE_GOLDEN=1 to refresh)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from golden import to_jsonable  # type: ignore[import-not-found]

from pykeepalived.config import load_config
from pykeepalived.config.to_params import instance_params

HERE = Path(__file__).parent
SAMPLES = sorted(p for p in (HERE / "samples").iterdir() if p.suffix != ".json")


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_golden(path: Path) -> None:
    model, diags = load_config(str(path), "high")
    got = {"model": to_jsonable(model), "diagnostics": [d.message for d in diags]}
    golden = HERE / "samples" / "golden" / (path.name + ".json")
    if os.environ.get("UPDATE_GOLDEN") or not golden.exists():
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    assert got == json.loads(golden.read_text())
    for inst in model.vrrp_instances:
        p = instance_params(model, inst)
        assert p.vrid == inst.vrid and p.base_priority == inst.priority


def test_master_without_priority_is_owner(tmp_path: Path) -> None:
    f = tmp_path / "k.conf"
    f.write_text(
        "global_defs {\n vrrp_garp_master_repeat 2\n}\nvrrp_instance A {\n state MASTER\n interface eth0\n"
        " virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n}\nglobal_defs {\n"
        " vrrp_garp_master_repeat 7\n}\n"
    )
    m, _ = load_config(str(f), "x")
    i = m.instance("A")
    assert i.priority == 255 and i.garp_master_repeat == 2  # global_defs copied as parsed so far


def test_deprecated_alias_warns(tmp_path: Path) -> None:
    f = tmp_path / "k.conf"
    f.write_text(
        "virtual_server 192.0.2.1 80 {\n lb_algo rr\n real_server 192.0.2.2 80 {\n HTTP_GET {\n"
        " url {\n path /\n }\n nb_get_retry 3\n }\n }\n}\n"
    )
    m, diags = load_config(str(f), "x")
    assert any("nb_get_retry is deprecated" in d.message and d.loc.line == 8 for d in diags)
    ck = m.virtual_servers[0].real_servers[0].checkers[0]
    assert ck.retry == 3 and ck.delay_before_retry_us == 3_000_000  # HTTP_GET's own default


def test_did_you_mean(tmp_path: Path) -> None:
    f = tmp_path / "k.conf"
    f.write_text("vrrp_instance A {\n interface eth0\n virtual_router_id 1\n priorty 5\n}\n")
    _, diags = load_config(str(f), "x")
    d = next(d for d in diags if "priorty" in d.message)
    assert d.loc.line == 4 and d.hint is not None and "priority" in d.hint
