"""State files written on signals (keepalived.md §3.2): keepalived.data (SIGUSR1), keepalived.stats
(SIGUSR2, STATS_CLEAR) and keepalived.json (JSON signal), in $TMPDIR or /tmp or where
state_dump_file / stats_dump_file / json_dump_file / data_use_instance put them (daemon/dumpfiles.py),
each written to a temporary file and renamed into place so a reader never sees half a file. The JSON
file has keepalived's json_version 1 shape (an array of {"data", "stats"}) or, with `json_version 2`,
{"vrrp": [...]} plus "track_process" when processes are tracked."""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

from pykeepalived.daemon.dumpfiles import DumpPaths, paths_of, tmp_dir
from pykeepalived.daemon.log import log
from pykeepalived.safefile import replace
from pykeepalived.vrrp.effects import State, StateChanged
from pykeepalived.vrrp.instance import STAT_NAMES

if TYPE_CHECKING:
    from pykeepalived.daemon.vrrp_child import VrrpChild
    from pykeepalived.vrrp.instance import VrrpInstance

_STATE_NAME = {State.INIT: "INIT", State.BACKUP: "BACKUP", State.MASTER: "MASTER", State.FAULT: "FAULT",
               State.STOP: "STOP"}


__all__ = ["StatusWriter", "tmp_dir"]


class StatusWriter:
    """Keeps the wall-clock time of transitions and renders the dump files."""

    def __init__(self, child: VrrpChild) -> None:
        self.child = child
        self.last_transition: dict[str, float] = {}

    @property
    def paths(self) -> DumpPaths:
        """From the running configuration (the child's model changes at a reload) and -s."""
        return paths_of(self.child.model, self.child.opts.namespace)

    def transition(self, e: StateChanged) -> None:
        self.last_transition[e.instance] = time.time()

    # ------------------------------------------------------------------ renderers
    def stats_text(self) -> str:
        out = []
        for inst in self.child.engine.instances.values():
            s = inst.stats
            out.append(
                f"VRRP Instance: {inst.name}\n"
                f"  Advertisements:\n    Received: {s['advert_rcvd']}\n    Sent: {s['advert_sent']}\n"
                f"  Became master: {s['become_master']}\n  Released master: {s['release_master']}\n"
                f"  Packet Errors:\n    Length: {s['packet_len_err']}\n    TTL: {s['ip_ttl_err']}\n"
                f"    Invalid Type: {s['invalid_type_rcvd']}\n"
                f"    Advertisement Interval: {s['advert_interval_err']}\n"
                f"    Address List: {s['addr_list_err']}\n"
                f"  Authentication Errors:\n    Invalid Type: {s['invalid_authtype']}\n"
                f"    Type Mismatch: {s['authtype_mismatch']}\n    Failure: {s['auth_failure']}\n"
                f"  Priority Zero:\n    Received: {s['pri_zero_rcvd']}\n    Sent: {s['pri_zero_sent']}\n"
            )
        return "".join(out)

    def instance_data(self, inst: VrrpInstance, as_file: bool = False) -> dict[str, Any]:
        """The JSON `data` object. The control socket (as_file False) always has the lists and
        plain addresses; the keepalived.json file has them as keepalived writes them."""
        p = inst.params
        rt = self.child.runtime.get(inst.name)
        ifname = rt.iface.ifname if rt and rt.iface else (p.interface or "")
        data: dict[str, Any] = {
            "iname": inst.name,
            "ifp_ifname": ifname,
            "vmac_ifname": "",
            "dont_track_primary": int(p.dont_track_primary),
            "skip_check_adv_addr": int(p.skip_check_adv_addr),
            "strict_mode": int(p.strict),
            "vrid": p.vrid,
            "base_priority": p.base_priority,
            "effective_priority": inst.effective_priority,
            "vipset": int(inst.vipset),
            "adver_int": p.adver_int_us / 1_000_000,
            "master_adver_int": inst.master_adver_int_us / 1_000_000,
            "accept": 1,
            "nopreempt": int(p.nopreempt),
            "preempt_delay": p.preempt_delay_us / 1_000_000,
            "state": int(inst.state) if inst.state != State.STOP else 0,
            "wantstate": int(inst.wantstate) if inst.wantstate != State.STOP else 0,
            "version": p.version,
            "master_priority": inst.master_priority,
            "last_transition": self.last_transition.get(inst.name, 0.0),
            "garp_delay": p.garp_master_delay_us // 1_000_000,
            "garp_refresh": p.garp_master_refresh_us // 1_000_000,
            "garp_rep": p.garp_master_repeat,
            "garp_refresh_rep": p.garp_master_refresh_repeat,
            "garp_lower_prio_delay": p.garp_lower_prio_delay_us // 1_000_000,
            "garp_lower_prio_rep": p.garp_lower_prio_repeat,
            "lower_prio_no_advert": int(p.lower_prio_no_advert),
            "higher_prio_send_advert": int(p.higher_prio_send_advert),
            "auth_type": int(p.auth_type),
        }
        lists = {
            "vips": self._addresses(rt, "vips", p.vips, ifname, inst.vipset) if as_file
            else [str(v) for v in p.vips],
            "evips": self._addresses(rt, "evips", p.evips, ifname, inst.vipset) if as_file
            else [str(v) for v in p.evips],
            "track_ifp": [t.name for t in p.tracks if t.kind == "interface"],
            "track_script": [t.name for t in p.tracks if t.kind == "script"],
        }
        for key, items in lists.items():
            if items or not as_file:  # keepalived writes a list only when it has entries
                data[key] = items
        return data

    @staticmethod
    def _addresses(rt: Any, which: str, plain: Any, ifname: str, is_set: bool) -> list[str]:
        """keepalived's format_ipaddress(): ADDR[/LEN] [brd B] dev IF scope S [label L] ... [set]."""
        specs = getattr(rt.conf, which, ()) if rt is not None else ()
        if not specs:
            return [str(v) for v in plain]
        out = []
        for v in specs:
            o = dict(zip(v.options[::2], v.options[1::2], strict=False))
            full = 32 if v.address.version == 4 else 128
            text = f"{v.address}" + (f"/{v.prefix}" if v.prefix != full else "")
            if "brd" in o and v.address.version == 4:
                text += f" brd {o['brd']}"
            text += f" dev {o.get('dev', ifname)} scope {o.get('scope', 'global')}"
            if "label" in o:
                text += f" label {o['label']}"
            if v.address.version == 6:
                text += " preferred_lft forever"
            out.append(text + (" set" if is_set else ""))
        return out

    def json_items(self) -> list[dict[str, Any]]:
        return [{"data": self.instance_data(i, as_file=True), "stats": {k: i.stats[k] for k in STAT_NAMES}}
                for i in self.child.engine.instances.values()]

    def track_process_data(self) -> list[dict[str, Any]]:
        """keepalived 2.3+'s track_process entries of the version 2 JSON file."""
        tracker = getattr(self.child, "processes", None)
        model = getattr(self.child, "model", None)
        if tracker is None:
            return []
        conf = {p.name: p for p in model.track_processes} if model is not None else {}
        out = []
        for tp in tracker.tracked.values():
            sp, c = tp.spec, conf.get(tp.name)
            d: dict[str, Any] = {"process": sp.process}
            if sp.params:
                d["parameters"] = " ".join(sp.params)
            d["param_match"] = sp.param_match.value
            d["min_processes"] = sp.quorum
            if sp.quorum_max < 2**32 - 1:
                d["max_processes"] = sp.quorum_max
            d["current_processes"] = tp.count
            d["have_quorum"] = bool(tp.have_quorum)
            weight = c.weight if c is not None else 0
            d["weight"] = -weight if c is not None and c.reverse else weight
            d["terminate_delay"] = sp.terminate_delay_us / 1_000_000
            d["fork_delay"] = sp.fork_delay_us / 1_000_000
            d["fork_delay_timer_running"] = False
            d["terminate_delay_timer_running"] = tp._timer is not None
            d["full_command"] = sp.full_command
            out.append(d)
        return out

    def json_text(self) -> str:
        if self.paths.json_version != 2:
            return json.dumps(self.json_items(), indent=1)
        doc: dict[str, Any] = {"vrrp": self.json_items()}
        procs = self.track_process_data()
        if procs:
            doc["track_process"] = procs
        return json.dumps(doc, indent=1)

    def data_text(self) -> str:
        lines = ["------< VRRP Topology >------"]
        for inst in self.child.engine.instances.values():
            d = self.instance_data(inst)
            lines.append(f" VRRP Instance = {inst.name}")
            lines.append(f"   VRRP Version = {d['version']}")
            lines.append(f"   State = {_STATE_NAME.get(inst.state, inst.state.name)}")
            lines.append(f"   Wantstate = {_STATE_NAME.get(inst.wantstate, inst.wantstate.name)}")
            lines.append(f"   Interface = {d['ifp_ifname']}")
            lines.append(f"   Virtual Router ID = {d['vrid']}")
            lines.append(f"   Priority = {d['base_priority']}")
            lines.append(f"   Effective priority = {d['effective_priority']}")
            lines.append(f"   Advert interval = {d['adver_int']} sec")
            lines.append(f"   Master priority = {d['master_priority']}")
            lines.append(f"   Virtual IP ({len(d['vips'])}):")
            lines.extend(f"     {v}" for v in d.get("vips", []))
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ signal handlers
    def write_data(self) -> None:
        log.info("Printing VRRP data for process(%d) on signal", os.getpid())
        self._write(self.paths.state(), self.data_text)

    def write_stats(self, clear: bool = False) -> None:
        what = "Printing and clearing" if clear else "Printing"
        log.info("%s VRRP stats for process(%d) on signal", what, os.getpid())
        self._write(self.paths.stats(), self.stats_text)
        if clear:
            for inst in self.child.engine.instances.values():
                for k in inst.stats:
                    inst.stats[k] = 0

    def write_json(self) -> None:
        log.info("Printing VRRP as json for process(%d) on signal", os.getpid())
        if self.child.engine.instances:  # keepalived writes no JSON file without instances
            self._write(self.paths.json(), self.json_text)

    def _write(self, path: str, render: Any) -> None:
        try:
            replace(path, render())
        except Exception as exc:  # a full disk must not kill the VRRP process
            log.error("Unable to write %s: %r", path, exc)
