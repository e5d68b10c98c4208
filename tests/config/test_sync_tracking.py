"""Tracker weights dropped in sync groups and for address owners: keepalived 2.2.7's messages
(vrrp.c vrrp_complete_instance, sync_group_tracking_init), compared line for line with `keepalived -t`
run in a namespace, and what the instances then track (config/sync_tracking.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived.config import load_config
from pykeepalived.config.sync_tracking import tracking_messages
from pykeepalived.config.to_params import instance_params
from pykeepalived.vrrp.params import TrackWeight

BASE = """
vrrp_script chk_a {{
  script "/bin/true"
  weight -10
}}
vrrp_script chk_b {{
  script "/bin/true"
}}
track_file tf {{
  file {d}/tf
  weight 3
}}
track_file tf1 {{
  file {d}/tf1
}}
vrrp_track_process tp {{
  process nginx
  weight 4
}}
vrrp_instance VI_1 {{
  interface eth0
  virtual_router_id 51
  priority {prio}
  virtual_ipaddress {{
    192.0.2.10/24
  }}
{inst}
}}
vrrp_instance VI_2 {{
  interface eth1
  virtual_router_id 52
  priority 100
  virtual_ipaddress {{
    198.51.100.10/24
  }}
{inst2}
}}
vrrp_sync_group G1 {{
  group {{
    VI_1
    VI_2
  }}
{group}
}}
"""

INST_ALL = """  track_interface {
    eth1 weight 5
    eth0
  }
  track_script {
    chk_a
    chk_b
    chk_b weight 3
  }
  track_file {
    tf
    tf1
  }
  track_process {
    tp
  }"""
GROUP_ALL = """  track_script {
    chk_a
    chk_b weight 2
  }
  track_file {
    tf
    tf1
  }
  track_process {
    tp
  }
  track_interface {
    eth1 weight 3
  }"""

CASES = {  # name: (VI_1 priority, VI_1 trackers, VI_2 trackers, group body)
    "sync_no_weight": (100, INST_ALL, "  track_file {\n    tf weight 2\n    tf1 weight 0\n  }", ""),
    "sync_with_weight": (100, INST_ALL, "", "  sync_group_tracking_weight"),
    "owner_sync_with_weight": (255, INST_ALL, "", "  sync_group_tracking_weight"),
    "owner_sync_no_weight": (255, INST_ALL, "", ""),
    "owner_group_trackers": (255, "", "", GROUP_ALL),
    "group_trackers_no_owner": (100, "", "", GROUP_ALL),
}


def write(d: Path, name: str) -> Path:
    prio, inst, inst2, group = CASES[name]
    f = d / f"{name}.conf"
    f.write_text(BASE.format(d=d, prio=prio, inst=inst, inst2=inst2, group=group))
    return f


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    ns = f"pkst-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"],
                       check=True)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def run_t(ns: str, argv: list[str], conf: Path) -> tuple[int, list[str]]:
    p = subprocess.run(["ip", "netns", "exec", ns, *argv, "-t", "-f", str(conf)], capture_output=True,
                       text=True, timeout=30, cwd=conf.parent)
    return p.returncode, p.stderr.splitlines()


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("keepalived") is None,
                    reason="needs root and keepalived")
def test_same_messages_as_keepalived(netns: str, tmp_path: Path) -> None:
    ours = shutil.which("pykeepalived", path=str(Path(sys.executable).parent)) or "pykeepalived"
    for name in CASES:
        conf = write(tmp_path, name)
        theirs = run_t(netns, ["keepalived"], conf)
        mine = run_t(netns, [ours], conf)
        assert mine == theirs, f"{name}:\nkeepalived: {theirs}\nours:       {mine}"
        # the cases are not vacuous: each but one has keepalived drop or clear something
        assert name == "group_trackers_no_owner" or any("ignoring" in ln or "Cannot have" in ln
                                                        for ln in theirs[1]), theirs


def _model(tmp_path: Path, name: str):  # type: ignore[no-untyped-def]
    model, _ = load_config(str(write(tmp_path, name)), None)
    return model


def test_messages_in_keepalived_order(tmp_path: Path) -> None:
    assert tracking_messages(_model(tmp_path, "sync_no_weight")) == [
        "(VI_1) Ignoring track_interface eth0 since own interface",
        "(VI_1) ignoring eth1 tracked interface weight due to SYNC group",
        "(VI_1) ignoring tracked script chk_a with weights due to SYNC group",
        "(VI_1) ignoring tracked file tf with weight 3 due to SYNC group",
        "(VI_1) ignoring weight from tracked file tf1 due to SYNC group. specify weight 0",
        "(VI_2) ignoring tracked file tf with weight 2 due to SYNC group",
    ]
    assert tracking_messages(_model(tmp_path, "sync_with_weight")) == [
        "(VI_1) Ignoring track_interface eth0 since own interface"]


def test_what_the_members_track(tmp_path: Path) -> None:
    tracks = set(instance_params(_model(tmp_path, "sync_no_weight"), "VI_1").tracks)
    # own interface gone, interface weight cleared, weighted script and file dropped, the default-weight
    # file kept unweighted, the process keeps its weight (keepalived 2.2.7 does not look at processes)
    assert tracks == {TrackWeight("interface", "eth1", 0), TrackWeight("script", "chk_b", 0),
                      TrackWeight("file", "tf1", 0), TrackWeight("process", "tp", 4)}
    owner = set(instance_params(_model(tmp_path, "owner_sync_with_weight"), "VI_1").tracks)
    assert owner == {TrackWeight("script", "chk_b", 0), TrackWeight("file", "tf1", 0),
                     TrackWeight("process", "tp", 4)}  # the owner drops its weighted interface
    kept = set(instance_params(_model(tmp_path, "sync_with_weight"), "VI_1").tracks)
    assert TrackWeight("script", "chk_a", -10) in kept and TrackWeight("interface", "eth1", 5) in kept
