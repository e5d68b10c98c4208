"""State files written on signals (keepalived.md §3.2): keepalived.data (SIGUSR1), keepalived.stats
(SIGUSR2, STATS_CLEAR) and keepalived.json (JSON signal), in $TMPDIR or /tmp or where
state_dump_file / stats_dump_file / json_dump_file / data_use_instance put them (daemon/dumpfiles.py),
each written to a temporary file and renamed into place so a reader never sees half a file. The JSON
file has keepalived's json_version 1 shape (an array of {"data", "stats"}) or, with `json_version 2`,
{"vrrp": [...]} plus "track_process" when processes are tracked."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Protocol

from pykeepalived.config.command_words import cmd_str
from pykeepalived.config.instance_setup import InstanceSetup
from pykeepalived.daemon.dump_data import (
    InstanceInput,
    InterfacesInput,
    SockInput,
    accept_mode,
    address_texts,
    auth_text,
    dump_proc,
    full_command,
    global_definitions,
    global_input,
    instance_lines,
    interface_lines,
    script_lines,
    sockpool_lines,
    static_lines,
    sync_group_lines,
    track_bfd_lines,
    track_file_lines,
    track_process_lines,
    users_of,
    uses_default_user,
)
from pykeepalived.daemon.dump_format import Fixed, format_route, format_rule, ka_json
from pykeepalived.daemon.dumpfiles import DumpPaths, paths_of, tmp_dir
from pykeepalived.daemon.log import log
from pykeepalived.linux.iface import links_now
from pykeepalived.safefile import replace
from pykeepalived.track.command import ScriptCommand
from pykeepalived.vrrp.effects import State
from pykeepalived.vrrp.instance import STAT_NAMES
from pykeepalived.vrrp.params import AuthType

if TYPE_CHECKING:
    from pykeepalived.config.model import Model
    from pykeepalived.daemon.bfd_events import VrrpBfdTracker
    from pykeepalived.daemon.trackers import NotifyDispatcher
    from pykeepalived.daemon.vrrp.firewall import Firewall
    from pykeepalived.daemon.vrrp.instances import InstanceTable
    from pykeepalived.daemon.vrrp.runtimes import RuntimeBuilder
    from pykeepalived.linux.vmac import VmacManager
    from pykeepalived.options import Options
    from pykeepalived.track.file import FileTrackers
    from pykeepalived.track.process import ProcessTracker
    from pykeepalived.track.script import ScriptTrackers
    from pykeepalived.vrrp.instance import VrrpInstance

# keepalived's VRRP_STATE_* numbers (vrrp.h), as keepalived.json carries them
_STATE_NUMBER = {State.INIT: 0, State.BACKUP: 1, State.MASTER: 2, State.FAULT: 3}
# notify scripts in vrrp_json_data_dump's order: (NotifyScripts attribute, JSON key)
_JSON_SCRIPTS = (("backup", "script_backup"), ("master", "script_master"), ("fault", "script_fault"),
                 ("stop", "script_stop"), ("deleted", "script_deleted"), ("notify", "script"),
                 ("master_rx_lower_pri", "script_master_rx_lower_pri"))


__all__ = ["StatusWriter", "tmp_dir"]


class DumpedChild(Protocol):
    """What the dumps read of the VRRP child: keepalived's dump_data_vrrp shows all of it (the
    instances, their sockets, every tracker, the notifies, the firewall table)."""

    opts: Options
    table: InstanceTable
    builder: RuntimeBuilder  # the sockets and their receive buffers
    model: Model | None
    notifier: NotifyDispatcher | None
    scripts: ScriptTrackers | None
    files: FileTrackers | None
    processes: ProcessTracker | None
    firewall: Firewall | None
    bfd: VrrpBfdTracker
    vmacs: VmacManager  # the VMACs it created (the Interfaces section)
    gna_checks: dict[str, tuple[bool, float]]  # ifname -> (IPv6 forwarding, read at) of the NAs sent


class StatusWriter:
    """Renders the dump files and the control socket's instance data."""

    def __init__(self, child: DumpedChild) -> None:
        self.child = child
        self.transitions = child.table.transitions
        self._user_model: object = None  # the model the default script user was last looked up for
        self._user_looked_up = False

    @property
    def paths(self) -> DumpPaths:
        """From the running configuration (the child's model changes at a reload) and -s."""
        return paths_of(self.child.model, self.child.opts.namespace)

    def wantstate(self, inst: VrrpInstance) -> State:
        return self.transitions.wantstate(inst)

    # ------------------------------------------------------------------ renderers
    def stats_text(self) -> str:
        out = []
        for inst in self.child.table.engine.instances.values():
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

    # ------------------------------------------------------------------ what the renderers take
    def _wall(self, us: int) -> float:
        """The core's monotonic µs (daemon/vrrp/executor.py AsyncioClock) as wall-clock seconds."""
        return time.time() - (time.monotonic_ns() // 1000 - us) / 1_000_000

    def _last_transition(self, inst: VrrpInstance) -> float:
        return self.transitions.last_transition(inst)

    def _input(self, inst: VrrpInstance) -> InstanceInput:
        rt = self.child.table.runtime.get(inst.name)
        p = inst.params
        notifier = self.child.notifier
        scripts = notifier.scripts.get(("INSTANCE", inst.name)) if notifier is not None else None
        if rt is None:  # no daemon around the core (unit tests of the control plane)
            return InstanceInput(InstanceSetup(), p, inst, {}, p.interface, p.interface, 0,
                                 scripts=scripts)
        sock = rt.sock
        fds = (sock.rx.fileno(), sock.tx.fileno()) if sock is not None and sock.rx is not None else None
        base = rt.iface.ifname if rt.iface is not None else p.interface
        return InstanceInput(
            rt.setup, p, inst, dict(rt.addresses), rt.vmac.ifname if rt.vmac is not None else base, base,
            rt.iface.ifindex if rt.iface is not None else 0, vmac_up=rt.vmac is not None, fds=fds,
            scripts=scripts, not_set=frozenset(rt.not_set), wantstate=self.wantstate(inst))

    def instance_data(self, inst: VrrpInstance, as_file: bool = False) -> dict[str, Any]:
        """keepalived's `data` object of keepalived.json (vrrp_json.c vrrp_json_data_dump), in its
        order. The control socket (as_file False) also has it, with `vips`/`evips` as plain
        addresses and `track_ifp`/`track_script` as names, always present (pykeepalivedctl's table)."""
        i = self._input(inst)
        c, p, sc = i.setup, i.params, i.scripts
        own_if = p.interface
        track_ifp = [t.name for t in c.tracks if t.kind == "interface" and t.name != own_if]
        commands = self._script_commands()
        track_script = [cmd_str(commands[t.name].argv) for t in c.tracks
                        if t.kind == "script" and t.name in commands]
        data: dict[str, Any] = {
            "iname": inst.name,
            "dont_track_primary": int(p.dont_track_primary),
            "skip_check_adv_addr": int(p.skip_check_adv_addr),
            "strict_mode": int(p.strict),
            "vmac_ifname": i.ifname if c.use_vmac is not None and i.ifname else "",
        }
        if i.ifname:
            data["ifp_ifname"] = i.ifname
        data.update({
            "master_priority": inst.master_priority,
            "last_transition": Fixed(self._last_transition(inst)),
            "garp_delay": p.garp_master_delay_us / 1_000_000,
            "garp_refresh": p.garp_master_refresh_us // 1_000_000,
            "garp_rep": p.garp_master_repeat,
            "garp_refresh_rep": p.garp_master_refresh_repeat,
            "garp_lower_prio_delay": p.garp_lower_prio_delay_us // 1_000_000,
            "garp_lower_prio_rep": p.garp_lower_prio_repeat,
            "lower_prio_no_advert": int(p.lower_prio_no_advert),
            "higher_prio_send_advert": int(p.higher_prio_send_advert),
            "vrid": p.vrid,
            "base_priority": p.base_priority,
            "effective_priority": inst.effective_priority,
            "vipset": bool(inst.vipset),
            "promote_secondaries": c.promote_secondaries,
            "adver_int": p.adver_int_us / 1_000_000,
            "master_adver_int": inst.master_adver_int_us / 1_000_000,
            "accept": int(accept_mode(c, p)),
            "nopreempt": bool(p.nopreempt),
            "preempt_delay": p.preempt_delay_us // 1_000_000,
            "state": _STATE_NUMBER.get(inst.state, 0),
            "wantstate": _STATE_NUMBER.get(self.wantstate(inst), 0),
            "version": p.version,
            "smtp_alert": bool(sc is not None and sc.smtp_alert),
            "notify_deleted": bool(sc is not None and sc.notify_deleted),
        })
        for attr, key in _JSON_SCRIPTS:
            cmd = getattr(sc, attr, None) if sc is not None else None
            if cmd is not None:
                data[key] = cmd_str(cmd.argv)
        if as_file:
            lists: dict[str, list[str]] = {
                "vips": address_texts(i, excluded=False), "evips": address_texts(i, excluded=True),
                "vroutes": [format_route(r) for r in c.virtual_routes],
                "vrules": [format_rule(r) for r in c.virtual_rules],
                "track_ifp": track_ifp, "track_script": track_script,
            }
            data.update((k, v) for k, v in lists.items() if v)  # keepalived writes only non-empty lists
        else:
            data.update({"vips": [str(v) for v in p.vips], "evips": [str(v) for v in p.evips],
                         "track_ifp": [t.name for t in p.tracks if t.kind == "interface"],
                         "track_script": [t.name for t in p.tracks if t.kind == "script"]})
        data["auth_type"] = int(p.auth_type)
        if p.auth_type is not AuthType.NONE:
            data["auth_data"] = auth_text(p.auth_pass)
        return data

    def _script_commands(self) -> dict[str, ScriptCommand]:
        scripts = self.child.scripts
        return {n: t.spec.command for n, t in scripts.trackers.items()} if scripts is not None else {}

    def json_items(self) -> list[dict[str, Any]]:
        return [{"data": self.instance_data(i, as_file=True), "stats": {k: i.stats[k] for k in STAT_NAMES}}
                for i in self.child.table.engine.instances.values()]

    def track_process_data(self) -> list[dict[str, Any]]:
        """keepalived 2.3+'s track_process entries of the version 2 JSON file."""
        tracker = self.child.processes
        model = self.child.model
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
            d["full_command"] = full_command(sp)
            out.append(d)
        return out

    def json_text(self) -> str:
        """keepalived's one line (lib/json_writer.c), or version 2's object."""
        if self.paths.json_version != 2:
            return ka_json(self.json_items()) + "\n"
        doc: dict[str, Any] = {"vrrp": self.json_items()}
        procs = self.track_process_data()
        if procs:
            doc["track_process"] = procs
        return ka_json(doc) + "\n"

    def data_text(self) -> str:
        """keepalived.data: dump_data_vrrp's sections (daemon/dump_data.py), but `Interfaces`."""
        child = self.child
        model = child.model
        if model is None:
            return ""
        instances = list(child.table.engine.instances.values())
        inputs = [self._input(i) for i in instances]
        firewall = child.firewall
        if self._user_model is not model:  # started or reloaded: as keepalived's reinitialise_global_vars
            self._user_model, self._user_looked_up = model, uses_default_user(model)
        proc = dump_proc(model, child.opts.namespace, child.opts.umask)
        lines = global_definitions(global_input(model, proc, "vrrp",
                                                firewall.table if firewall is not None else None,
                                                log_user=not self._user_looked_up))
        self._user_looked_up = True
        lines += static_lines(model)
        if inputs:
            lines.append("------< VRRP Topology >------")
            for i in inputs:
                lines += instance_lines(i, self._wall, self._last_transition(i.inst))
        socks = self._sockets()
        if socks:
            lines.append("------< VRRP Sockpool >------")
            lines += sockpool_lines(socks)
        params = [i.params for i in instances]
        notifier = child.notifier
        core_groups = child.table.engine.groups
        groups = [(g, core_groups[g.name]) for g in model.sync_groups if g.name in core_groups]
        if groups:
            lines.append("------< VRRP Sync groups >------")
            for g, core in groups:
                member = next((p for p in params if p.sync_group == g.name), None)
                sc = notifier.scripts.get(("GROUP", g.name)) if notifier is not None else None
                lines += sync_group_lines(g, core, member.tracks if member else (), sc)
        trackers = child.scripts.trackers if child.scripts is not None else {}
        scripts = [s for s in model.vrrp_scripts if s.name in trackers]
        if scripts:
            lines.append("------< VRRP Scripts >------")
            for s in scripts:
                lines += script_lines(trackers[s.name], s.weight, s.reverse,
                                      list(users_of("script", s.name, params)))
        files = track_file_lines(model, child.files, params)
        if files:
            lines += ["------< VRRP Track files >------", *files]
        procs = track_process_lines(child.processes, model, params)
        if procs:
            lines += ["------< VRRP Track processes >------", *procs]
        bfds = track_bfd_lines(model, child.bfd.up, params)
        if bfds:
            lines += ["------< VRRP Track BFDs >------", *bfds]
        lines += self._interfaces()
        return "\n".join(lines) + "\n"

    def _interfaces(self) -> list[str]:
        """keepalived's `Interfaces` section, from the kernel's links and what this child did to them."""
        child = self.child
        try:
            links = links_now()
        except OSError as exc:  # the section is left out rather than the whole dump
            log.error("Unable to read the interfaces for the data dump: %r", exc)
            return []
        runtimes = list(child.table.runtime.values())
        vmacs = [v for v in child.vmacs.vmacs.values() if v.created]
        tracking: dict[str, list[tuple[str, int, bool]]] = {}
        promote: dict[str, int] = {}
        for rt in runtimes:
            p = rt.params
            base = rt.iface.ifname if rt.iface is not None else p.interface
            own = [] if p.dont_track_primary or base is None else [base]
            own += [rt.vmac.ifname] if rt.vmac is not None else []
            for name in own:
                tracking.setdefault(name, []).append((p.name, 0, False))
            for t in rt.setup.tracks:  # as configured: a sync group zeroes the instance's weight only
                if t.kind == "interface" and t.name not in own:
                    tracking.setdefault(t.name, []).append((p.name, t.weight or 0, bool(t.reverse)))
            if base is not None and rt.vmac is None and rt.setup.promote_secondaries:
                promote[base] = promote.get(base, 0) + 1
        bases: dict[str, int] = {}
        for v in vmacs:
            bases[v.parent] = bases.get(v.parent, 0) + 1
        model = child.model
        static = [s.address for s in model.static_ipaddress] if model is not None else []
        return interface_lines(InterfacesInput(
            links, frozenset([*(a for rt in runtimes for a in rt.addresses), *static]),
            frozenset(v.ifname for v in vmacs),
            bases, promote, tracking, dict(child.gna_checks)))

    def _sockets(self) -> list[SockInput]:
        """The socket pool in creation order, each with the instances receiving on it."""
        out = []
        rx_bufs = self.child.builder.rx_bufs.parts
        for sock in self.child.builder.sockets.values():
            members = tuple((rt.params.name, rt.params.vrid) for rt in self.child.table.runtime.values()
                            if rt.sock is sock)
            if not members or sock.rx is None:
                continue
            out.append(SockInput(sock.ifname, sock.family, sock.proto, sock.unicast_src,
                                 (sock.rx.fileno(), sock.tx.fileno()),
                                 sum(rx_bufs.get(id(sock.rx), {}).values()), members))
        return out

    # ------------------------------------------------------------------ signal handlers
    def write_data(self) -> None:
        log.info("Printing VRRP data for process(%d) on signal", os.getpid())
        self.dump_data()

    def dump_data(self) -> None:
        """keepalived vrrp_print_data (SIGUSR1, DBus PrintData)."""
        self._write(self.paths.state(), self.data_text)

    def write_stats(self, clear: bool = False) -> None:
        what = "Printing and clearing" if clear else "Printing"
        log.info("%s VRRP stats for process(%d) on signal", what, os.getpid())
        self.dump_stats(clear)

    def dump_stats(self, clear: bool = False) -> None:
        """keepalived vrrp_print_stats (SIGUSR2, DBus PrintStats / PrintStatsClear)."""
        self._write(self.paths.stats(), self.stats_text)
        if clear:
            for inst in self.child.table.engine.instances.values():
                for k in inst.stats:
                    inst.stats[k] = 0

    def write_json(self) -> None:
        log.info("Printing VRRP as json for process(%d) on signal", os.getpid())
        if self.child.table.engine.instances:  # keepalived writes no JSON file without instances
            self._write(self.paths.json(), self.json_text)

    def _write(self, path: str, render: Any) -> None:
        try:
            replace(path, render())
        except Exception as exc:  # a full disk must not kill the VRRP process
            log.error("Unable to write %s: %r", path, exc)
