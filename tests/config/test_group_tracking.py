"""Sync-group trackers and track_group reach the member instances' InstanceParams.tracks
(keepalived.md §1.3 and §1.9: sync_group_tracking_init / static_track_group_init)."""

from __future__ import annotations

from pathlib import Path

from pykeepalived.config import load_config
from pykeepalived.config.to_params import instance_params
from pykeepalived.daemon.trackers import tracked_interfaces
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
  file /tmp/tg-test-file
  weight 3
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
{inst_tracks}
}}
vrrp_instance VI_2 {{
  interface eth1
  virtual_router_id 52
  priority 100
  virtual_ipaddress {{
    198.51.100.10/24
  }}
}}
vrrp_instance VI_3 {{
  interface eth1
  virtual_router_id 53
  priority 100
  virtual_ipaddress {{
    203.0.113.10/24
  }}
}}
vrrp_sync_group G1 {{
  group {{
    VI_1
    VI_2
  }}
{group_body}
}}
"""


def _tracks(tmp_path: Path, name: str, prio: int = 100, inst_tracks: str = "",
            group_body: str = "") -> set[TrackWeight]:
    f = tmp_path / "k.conf"
    f.write_text(BASE.format(prio=prio, inst_tracks=inst_tracks, group_body=group_body))
    model, _ = load_config(str(f), "x")
    return set(instance_params(model, name).tracks)


GROUP_TRACKS = """
  track_script {
    chk_a
    chk_b weight 5
  }
  track_interface {
    eth9 weight -7
  }
  track_file {
    tf
  }
  track_process {
    tp weight -2 reverse
  }
"""


def test_group_trackers_reach_every_member_unweighted(tmp_path: Path) -> None:
    want = {TrackWeight("script", "chk_a", 0), TrackWeight("script", "chk_b", 0),
            TrackWeight("interface", "eth9", 0), TrackWeight("file", "tf", 0),
            TrackWeight("process", "tp", 0)}
    assert _tracks(tmp_path, "VI_1", group_body=GROUP_TRACKS) == want
    assert _tracks(tmp_path, "VI_2", group_body=GROUP_TRACKS) == want
    assert _tracks(tmp_path, "VI_3", group_body=GROUP_TRACKS) == set()  # not a member


def test_group_trackers_weighted_with_sync_group_tracking_weight(tmp_path: Path) -> None:
    body = GROUP_TRACKS + "  sync_group_tracking_weight\n"
    want = {TrackWeight("script", "chk_a", -10), TrackWeight("script", "chk_b", 5),
            TrackWeight("interface", "eth9", -7), TrackWeight("file", "tf", 3),
            TrackWeight("process", "tp", -2, True)}
    assert _tracks(tmp_path, "VI_2", group_body=body) == want
    # an address owner among the members clears the group's weights
    assert {t.weight for t in _tracks(tmp_path, "VI_2", prio=255, group_body=body)} == {0}


def test_member_weighted_trackers_dropped_without_tracking_weight(tmp_path: Path) -> None:
    inst = "  track_script {\n    chk_a\n  }\n  track_interface {\n    eth5 weight 4\n  }\n"
    assert _tracks(tmp_path, "VI_1", inst_tracks=inst) == {TrackWeight("interface", "eth5", 0)}
    kept = _tracks(tmp_path, "VI_1", inst_tracks=inst, group_body="  sync_group_tracking_weight\n")
    assert kept == {TrackWeight("script", "chk_a", -10), TrackWeight("interface", "eth5", 4)}


def test_instance_and_group_tracking_the_same_object(tmp_path: Path) -> None:
    body = "  track_script {\n    chk_b weight 5\n  }\n  sync_group_tracking_weight\n"
    # the group's weight wins over a weighted instance entry ...
    got = _tracks(tmp_path, "VI_1", inst_tracks="  track_script {\n    chk_b weight 2\n  }\n",
                  group_body=body)
    assert got == {TrackWeight("script", "chk_b", 5)}
    # ... but an unweighted instance entry stays unweighted
    got = _tracks(tmp_path, "VI_1", inst_tracks="  track_script {\n    chk_b weight 0\n  }\n",
                  group_body=body)
    assert got == {TrackWeight("script", "chk_b", 0)}


def test_track_group_static_entries(tmp_path: Path) -> None:
    f = tmp_path / "k.conf"
    f.write_text(BASE.format(prio=100, inst_tracks="", group_body="") + """
track_group TG {
  group {
    VI_3
  }
}
static_ipaddress {
  192.0.2.50/24 dev eth7 track_group TG
  192.0.2.51/24 dev eth8
}
static_routes {
  198.51.100.0/24 via 192.0.2.1 dev eth6 track_group TG
  203.0.113.0/24 via 192.0.2.1 dev eth4 track_group TG no_track
}
static_rules {
  from 192.0.2.0/24 table 100 iif eth3 track_group TG
}
""")
    model, _ = load_config(str(f), "x")
    want = {TrackWeight("interface", n, 0) for n in ("eth7", "eth6", "eth3")}
    assert set(instance_params(model, "VI_3").tracks) == want
    assert instance_params(model, "VI_1").tracks == ()
    assert {"eth7", "eth6", "eth3"} <= tracked_interfaces(model)
    assert "eth8" not in tracked_interfaces(model) and "eth4" not in tracked_interfaces(model)


def test_track_weight_alone_keeps_the_objects_reverse() -> None:
    """keepalived vrrp_track.c: `track_script { chk weight 3 }` keeps vrrp_script chk's `reverse`;
    only `reverse`/`noreverse` after the weight change it (also for files, processes, BFDs)."""
    from pykeepalived.config.model import Track
    from pykeepalived.config.sync_tracking import resolve_track

    defaults = {("script", "chk"): (-20, True)}
    assert resolve_track(Track("script", "chk", 3), defaults) == TrackWeight("script", "chk", 3, True)
    assert resolve_track(Track("script", "chk", 3, False), defaults) == TrackWeight("script", "chk", 3, False)
    assert resolve_track(Track("script", "chk"), defaults) == TrackWeight("script", "chk", -20, True)
    assert resolve_track(Track("interface", "eth1", 5), defaults) == TrackWeight("interface", "eth1", 5,
                                                                                   False)
