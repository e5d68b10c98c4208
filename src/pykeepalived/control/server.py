# Theory of operation
# -------------------
# The VRRP child's control socket: the JSON-lines transport of jsonlines.py (shared with the checker
# child's socket, check_server.py) with these commands:
#
#   status   keepalived.json content (json_version 2 shape: {"vrrp": [{"data", "stats"}]}) with
#            keepalived's field names, plus "master_saddr" and "sync_group" per instance
#   stats    per-instance counters ({"stats": {iname: {...}}}) and keepalived.stats text;
#            {"cmd": "stats", "clear": true} zeroes them afterwards (the STATS_CLEAR signal)
#   dump     keepalived.data text
#   bgp      bgp_announce (daemon/vrrp/bgp.py, docs/bgp.md): {"bgp": {iname: {"state", "mode", "anchor"
#            (null: withdrawn), "addresses"}}}
#   reload   SIGHUP to the parent process (the RELOAD signal), which reloads every child
#   follow   {"ok": true, "following": true}, then one line per event, live, until the client
#            closes: {"event": "state", "iname", "old", "new", "priority", "reason", "time"} and
#            {"event": "notify", "target", "name", "state", "priority", "time"}
#
# Where the sockets are: `pykeepalived_control_socket PATH` puts the VRRP child's at PATH and the
# checker child's next to it, named STEM_check.SUFFIX (check_socket_path); without the keyword they
# are pykeepalived.sock next to the VRRP pid file and pykeepalived_check.sock next to the checker
# pid file (both /run by default); `off` disables both.
"""The VRRP child's control socket (JSON lines over a unix socket)."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from pykeepalived import KEEPALIVED_COMPAT, __version__
from pykeepalived.control.jsonlines import OFF, JsonLinesServer
from pykeepalived.vrrp.effects import Notify, StateChanged
from pykeepalived.vrrp.instance import STAT_NAMES

if TYPE_CHECKING:
    from pykeepalived.control.metrics import BgpSource
    from pykeepalived.control.view import VrrpView
    from pykeepalived.vrrp.instance import VrrpInstance

SOCKET_NAME = "pykeepalived.sock"
DEFAULT_SOCKET = "/run/" + SOCKET_NAME


def socket_path(value: str | None, vrrp_pid_file: str) -> str | None:
    """`pykeepalived_control_socket PATH|off` (`value`), else pykeepalived.sock next to the VRRP pid
    file."""
    if value is None:
        return os.path.join(os.path.dirname(vrrp_pid_file) or ".", SOCKET_NAME)
    return None if value.lower() in OFF else value


def check_socket_for(vrrp_socket: str) -> str:
    """The checker child's socket beside a VRRP socket: /run/pykeepalived.sock → pykeepalived_check.sock."""
    stem, suffix = os.path.splitext(vrrp_socket)
    return f"{stem}_check{suffix}"


def check_socket_path(value: str | None, checker_pid_file: str) -> str | None:
    """The checker child's socket: beside `pykeepalived_control_socket PATH` (`value`; None with `off`),
    else pykeepalived_check.sock next to the checker pid file."""
    if value is None:
        return check_socket_for(os.path.join(os.path.dirname(checker_pid_file) or ".", SOCKET_NAME))
    return None if value.lower() in OFF else check_socket_for(value)


class VrrpDumps(Protocol):
    """The VRRP child's renderings the control socket serves (daemon/vrrp/status.py StatusWriter)."""

    def instance_data(self, inst: VrrpInstance) -> dict[str, Any]: ...

    def stats_text(self) -> str: ...

    def data_text(self) -> str: ...


class ControlServer(JsonLinesServer):
    """Serves the control protocol of the VRRP child's instances; `publish()` feeds `follow` clients."""

    def __init__(self, view: VrrpView, dumps: VrrpDumps, path: str,
                 bgp: Callable[[], BgpSource | None] = lambda: None) -> None:
        super().__init__(path)
        self.view = view
        self.dumps = dumps
        self.bgp = bgp  # bgp_announce's announcer, when configured

    # ------------------------------------------------------------------ events
    def state_changed(self, e: StateChanged) -> None:
        self.publish({"event": "state", "iname": e.instance, "old": e.old.word,
                      "new": e.new.word, "priority": e.priority, "reason": e.reason.value,
                      "time": time.time()})

    def notified(self, n: Notify) -> None:
        self.publish({"event": "notify", "target": n.target, "name": n.name, "state": n.event,
                      "priority": n.priority, "time": time.time()})

    # ------------------------------------------------------------------ requests
    def status(self) -> dict[str, Any]:
        items = []
        for inst in self.view.instances().values():
            data = self.dumps.instance_data(inst)
            data["master_saddr"] = str(inst.master_saddr) if inst.master_saddr is not None else ""
            data["sync_group"] = inst.sync.name if inst.sync is not None else ""
            items.append({"data": data, "stats": {k: inst.stats[k] for k in STAT_NAMES}})
        return {"ok": True, "role": "vrrp", "pid": os.getpid(), "version": __version__,
                "keepalived": KEEPALIVED_COMPAT, "vrrp": items}

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        cmd = req.get("cmd")
        if cmd == "status":
            return self.status()
        if cmd == "stats":
            out = {"ok": True, "text": self.dumps.stats_text(),
                   "stats": {i.name: {k: i.stats[k] for k in STAT_NAMES}
                             for i in self.view.instances().values()}}
            if req.get("clear"):
                for inst in self.view.instances().values():
                    for k in inst.stats:
                        inst.stats[k] = 0
            return out
        if cmd == "dump":
            return {"ok": True, "text": self.dumps.data_text()}
        if cmd == "bgp":
            bgp = self.bgp()
            view = bgp.view() if bgp is not None else {}
            return {"ok": True, "bgp": {name: dataclasses.asdict(v) for name, v in view.items()}}
        if cmd == "reload":
            return self.reload_parent()
        return super().handle(req)
