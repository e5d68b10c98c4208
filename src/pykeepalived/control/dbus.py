# Theory of operation
# -------------------
# keepalived 2.2.7's DBus service (Debian builds it with --enable-dbus), for `enable_dbus`: the VRRP
# child owns `dbus_service_name` (org.keepalived.Vrrp1) on the system bus and exports
#   /org/keepalived/Vrrp1[/NETNS][/INSTANCE]/Vrrp                    org.keepalived.Vrrp1.Vrrp
#   /org/keepalived/Vrrp1[/NETNS][/INSTANCE]/Instance/IF/VRID/IPvN   org.keepalived.Vrrp1.Instance
# (NETNS: net_namespace or -s, INSTANCE: the top-level `instance`; IF with every character other
# than a letter or digit made '_'; an instance without an interface has `dbus_no_interface_name`,
# "none" by default). The interfaces are the XML files in pykeepalived/data/dbus (what `make install`
# puts in share/dbus-1/interfaces); the policy beside them lets only root own the name and call
# methods, anyone introspect and read properties.
#
# keepalived runs GDBus in a thread and hands each call to its main loop through a pipe; here the
# connection (dbus-fast, asyncio) is one more reader on the VRRP child's event loop: a call is
# answered in one loop callback, and signals are queued on the socket's writer, so nothing waits on
# the bus, least of all the advert timer. The service reads the instances through the `VrrpView`
# every service beside VRRP reads (control/view.py) and asks the child for the rest through
# `VrrpRequests` (the dumps, a GARP round), never the child itself.
#
# keepalived's behaviour, kept: the same log lines ("Acquired DBus bus NAME", "Acquired the name NAME
# on the session bus", "Lost the name ...", "Printing VRRP data on DBus request", "Sending garps on X
# on DBus request", "Released DBus"); VrrpStarted (only with instances) then one VrrpStatusChange per
# instance when the bus is reached; VrrpStatusChange(u state) with each instance notify (keepalived's
# numbers: 1 BACKUP, 2 MASTER, 3 FAULT, 97 DELETED, 98 STOP); VrrpReloaded after a reload;
# VrrpStopped at stop. ReloadConfig answers, then SIGHUPs the parent (the reload every child does on
# SIGHUP); PrintData/PrintStats/PrintStatsClear write the SIGUSR1/SIGUSR2 dumps; SendGarp sends one
# round of the instance's GARPs/NAs if it holds its VIPs. Property Name reads as the structure "(s)",
# as keepalived's getter returns it (its introspection says "s"); State is "(us)", e.g. (2,"Master").
# GDBus's own answers (introspection layout, Peer, Properties, errors and their texts) are rebuilt in
# `_Dispatch`: dbus-fast's exported-object machinery checks property types and answers errors its
# own way, so the service takes every call on the connection itself (a message handler).
"""keepalived's DBus service org.keepalived.Vrrp1 (enable_dbus) in the VRRP child."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pykeepalived.vrrp.effects import Notify

if TYPE_CHECKING:
    from dbus_fast import Message
    from dbus_fast.aio import MessageBus

    from pykeepalived.control.view import VrrpView
    from pykeepalived.vrrp.instance import VrrpInstance

log = logging.getLogger("pykeepalived")

SERVICE_NAME = "org.keepalived.Vrrp1"
VRRP_IFACE = "org.keepalived.Vrrp1.Vrrp"
INSTANCE_IFACE = "org.keepalived.Vrrp1.Instance"
ROOT = "/org/keepalived/Vrrp1"
NO_INTERFACE = "none"
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
PROPERTIES = "org.freedesktop.DBus.Properties"
PEER = "org.freedesktop.DBus.Peer"
_UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
_INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"

# keepalived's numbers (vrrp.h VRRP_STATE_*) for the notify words, and its state_str texts
NOTIFY_STATES = {"BACKUP": 1, "MASTER": 2, "FAULT": 3, "DELETED": 97, "STOP": 98}
STATE_TEXT = {0: "Init", 1: "Backup", 2: "Master", 3: "Fault", 98: "Stop", 97: "Deleted"}


@dataclass(frozen=True)
class BusInstance:
    """What the bus shows of one vrrp_instance: its object path comes from these."""

    name: str
    ifname: str | None  # the configured interface; None: none (unicast without `interface`)
    vrid: int
    family: int  # 4 or 6


def bus_instance(inst: VrrpInstance) -> BusInstance:
    p = inst.params
    return BusInstance(p.name, p.interface, p.vrid, p.family)


class VrrpRequests(Protocol):
    """What the service asks of the VRRP child beside reading its VrrpView."""

    def print_data(self) -> None:
        """The SIGUSR1 dump (keepalived.data), without the signal's log line."""

    def print_stats(self, clear: bool) -> None:
        """The SIGUSR2 dump (keepalived.stats), counters cleared after it with `clear`."""

    def send_garp(self, name: str) -> None:
        """One round of the instance's GARPs/NAs if it holds its VIPs."""


@dataclass(frozen=True)
class DbusSettings:
    """global_defs enable_dbus / dbus_service_name / dbus_no_interface_name, and the path prefixes."""

    enabled: bool = False
    service_name: str = SERVICE_NAME
    no_interface: str = NO_INTERFACE
    net_namespace: str | None = None
    instance: str | None = None

    def base(self) -> str:
        return ROOT + "".join(f"/{x}" for x in (self.net_namespace, self.instance) if x)

    def vrrp_path(self) -> str:
        return self.base() + "/Vrrp"

    def instance_path(self, i: BusInstance) -> str:
        ifname = valid_path(i.ifname or self.no_interface)
        return f"{self.base()}/Instance/{ifname}/{i.vrid}/{family_str(i.family)}"


def valid_path(name: str) -> str:
    """keepalived set_valid_path: every character but an ASCII letter or digit becomes '_'."""
    return re.sub(r"[^A-Za-z0-9]", "_", name)


def family_str(family: int) -> str:
    return {4: "IPv4", 6: "IPv6"}.get(family, "None")


_OBJECT_PATH = re.compile(r"/|(/[A-Za-z0-9_]+)+")


# ---------------------------------------------------------------------------------- introspection
_DOCTYPE = ('<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
            '                      "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n')
# the standard interfaces GDBus puts first in an exported object's introspection
_STANDARD = """  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get">
      <arg type="s" name="interface_name" direction="in"/>
      <arg type="s" name="property_name" direction="in"/>
      <arg type="v" name="value" direction="out"/>
    </method>
    <method name="GetAll">
      <arg type="s" name="interface_name" direction="in"/>
      <arg type="a{sv}" name="properties" direction="out"/>
    </method>
    <method name="Set">
      <arg type="s" name="interface_name" direction="in"/>
      <arg type="s" name="property_name" direction="in"/>
      <arg type="v" name="value" direction="in"/>
    </method>
    <signal name="PropertiesChanged">
      <arg type="s" name="interface_name"/>
      <arg type="a{sv}" name="changed_properties"/>
      <arg type="as" name="invalidated_properties"/>
    </signal>
  </interface>
  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect">
      <arg type="s" name="xml_data" direction="out"/>
    </method>
  </interface>
  <interface name="org.freedesktop.DBus.Peer">
    <method name="Ping"/>
    <method name="GetMachineId">
      <arg type="s" name="machine_uuid" direction="out"/>
    </method>
  </interface>
"""


@dataclass(frozen=True)
class Interface:
    """One interface of the shipped XML: methods (name -> in-signature), property types, and its
    introspection text laid out as GDBus generates it from a parsed file."""

    name: str
    methods: dict[str, str]
    properties: dict[str, str]
    xml: str


def load_interface(filename: str) -> Interface:
    """One of the interface files pykeepalived ships (pykeepalived/data/dbus)."""
    from importlib import resources

    return parse_interface(resources.files("pykeepalived").joinpath("data", "dbus", filename).read_text())


def parse_interface(text: str) -> Interface:
    import xml.etree.ElementTree as ET
    el = ET.fromstring(text).find("interface")
    if el is None:
        raise ValueError("no <interface> in the DBus interface file")
    out = [f'  <interface name="{el.get("name")}">\n']
    methods, props = {}, {}

    def args(parent: ET.Element, direction: bool) -> None:
        for a in parent.findall("arg"):
            d = f' direction="{a.get("direction", "in")}"' if direction else ""
            out.append(f'      <arg type="{a.get("type")}" name="{a.get("name")}"{d}>\n      </arg>\n')

    for m in el.findall("method"):
        out.append(f'    <method name="{m.get("name")}">\n')
        args(m, True)
        out.append("    </method>\n")
        methods[str(m.get("name"))] = "".join(str(a.get("type")) for a in m.findall("arg")
                                              if a.get("direction", "in") == "in")
    for s in el.findall("signal"):
        out.append(f'    <signal name="{s.get("name")}">\n')
        args(s, False)
        out.append("    </signal>\n")
    for p in el.findall("property"):
        attrs = f'type="{p.get("type")}" name="{p.get("name")}" access="{p.get("access")}"'
        out.append(f"    <property {attrs}>\n    </property>\n")
        props[str(p.get("name"))] = str(p.get("type"))
    out.append("  </interface>\n")
    return Interface(str(el.get("name")), methods, props, "".join(out))


def introspection(iface: Interface | None, children: Sequence[str]) -> str:
    body = (_STANDARD + iface.xml) if iface is not None else ""
    nodes = "".join(f'  <node name="{c}"/>\n' for c in children)
    return f"{_DOCTYPE}<node>\n{body}{nodes}</node>\n"


def machine_id() -> str:
    for path in ("/var/lib/dbus/machine-id", "/etc/machine-id"):
        with contextlib.suppress(OSError), open(path) as f:
            return f.read().strip()
    return ""


# ---------------------------------------------------------------------------------- the service
class DbusService:
    """The bus connection, the exported objects and the signals of one VRRP child."""

    def __init__(self, settings: DbusSettings, vrrp: VrrpView, requests: VrrpRequests,
                 connect: Callable[[], Any] | None = None) -> None:
        self.settings = settings
        self.vrrp = vrrp
        self.requests = requests
        self.bus: MessageBus | None = None
        self.objects: dict[str, str | None] = {}  # path -> instance name (None: the Vrrp object)
        self._paths: dict[str, str] = {}  # instance name -> its path (for the signals)
        self._vrrp_iface = load_interface("org.keepalived.Vrrp1.Vrrp.xml")
        self._inst_iface = load_interface("org.keepalived.Vrrp1.Instance.xml")
        self._connect = connect or _system_bus
        self._task: asyncio.Task[None] | None = None
        self._sent: set[asyncio.Future[Any]] = set()
        self._owner: bool | None = None  # None until RequestName is answered

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        """Reach the bus in the background (keepalived's DBus thread does it while the child goes on)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        name = self.settings.service_name
        try:
            bus = await self._connect()
        except ImportError as exc:  # an installation without its dependencies: say so, once
            log.error("enable_dbus: dbus-fast cannot be imported (%s) - reinstall pykeepalived with its "
                      "dependencies", exc)
            log.info("Lost the name %s on the session bus", name)
            return
        except Exception as exc:  # no bus to reach: GDBus's on_name_lost, keepalived's only line
            log.debug("DBus connection to the system bus failed: %r", exc)
            log.info("Lost the name %s on the session bus", name)
            return
        self.bus = bus
        bus.add_message_handler(self._handle)
        log.info("Acquired DBus bus %s", name)
        self._register(self._instances())
        instances = self._instances()
        if instances:  # keepalived on_bus_acquired: nothing more without instances
            self._emit(self.settings.vrrp_path(), VRRP_IFACE, "VrrpStarted")
            for i in instances:
                self._status(i.name, self._state_of(i.name))
        from dbus_fast import RequestNameReply

        try:
            reply = await bus.request_name(name)
        except Exception:
            reply = None
        if reply in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
            self._owner = True
            log.info("Acquired the name %s on the session bus", name)
        else:
            self._owner = False
            log.info("Lost the name %s on the session bus", name)
        try:
            await bus.wait_for_disconnect()
        except Exception as exc:  # dbus-fast's reason: the socket's error, or what broke the connection
            log.debug("DBus connection lost: %r", exc)
        # the bus went away (GDBus on_name_lost): no objects, no signals, no new connection
        self.bus = None
        self.objects = {}
        self._paths = {}
        log.info("Lost the name %s on the session bus", name)

    def _register(self, instances: Sequence[BusInstance]) -> None:
        self.objects = {self.settings.vrrp_path(): None}
        self._paths = {}
        for i in instances:
            path = self.settings.instance_path(i)
            self._paths[i.name] = path
            self.objects.setdefault(path, i.name)  # keepalived: the first instance of a path has it
        for path in [p for p in self.objects if not _OBJECT_PATH.fullmatch(p)]:
            log.error("DBus object path %s is not valid - not exported", path)
            del self.objects[path]

    def remove(self, dropped: Sequence[str]) -> None:
        """A reload has stopped these instances (keepalived clear_diff_vrrp -> dbus_remove_object)."""
        for name in dropped:
            path = self._paths.pop(name, None)
            if path is not None:
                log.info("Deleted DBus object for instance %s", name)
                if self.objects.get(path) == name:
                    del self.objects[path]

    def reload(self) -> None:
        """After a reload (keepalived dbus_reload): objects for the new instances, then VrrpReloaded."""
        if self.bus is None:
            return
        self._register(self._instances())
        self._emit(self.settings.vrrp_path(), VRRP_IFACE, "VrrpReloaded")

    async def stop(self) -> None:
        """keepalived dbus_stop: the objects go, VrrpStopped, the connection closes."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        bus, self.bus = self.bus, None
        self.objects = {}
        if bus is not None:
            self._emit(self.settings.vrrp_path(), VRRP_IFACE, "VrrpStopped", bus=bus)
            if self._sent:  # the signals reach the socket before it closes (keepalived waits 1 s)
                with contextlib.suppress(Exception):
                    await asyncio.wait(self._sent, timeout=1)
            with contextlib.suppress(Exception):
                bus.disconnect()
        log.info("Released DBus")

    # ------------------------------------------------------------------ the instances
    def _instances(self) -> list[BusInstance]:
        """The running instances, in configuration order."""
        return [bus_instance(i) for i in self.vrrp.instances().values()]

    def _state_of(self, name: str) -> int | None:
        """keepalived's state number of a running instance."""
        inst = self.vrrp.instances().get(name)
        return int(inst.state) if inst is not None else None

    # ------------------------------------------------------------------ signals
    def notified(self, n: Notify) -> None:
        """The state-change hook: an instance notify is also VrrpStatusChange (keepalived
        send_instance_notifies -> dbus_send_state_signal)."""
        if n.target == "INSTANCE" and n.event in NOTIFY_STATES:
            self._status(n.name, NOTIFY_STATES[n.event])

    def _status(self, name: str, state: int | None) -> None:
        if self.bus is None or state is None:
            return
        path = self._paths.get(name)
        if path is None:
            inst = self.vrrp.instance(name)  # also one a reload is dropping (its last state signal)
            if inst is None:
                return
            path = self.settings.instance_path(bus_instance(inst))
        self._emit(path, INSTANCE_IFACE, "VrrpStatusChange", "u", [state])

    def _emit(self, path: str, iface: str, member: str, sig: str = "", body: list[Any] | None = None,
              bus: MessageBus | None = None) -> None:
        bus = bus or self.bus
        if bus is None or not _OBJECT_PATH.fullmatch(path):
            return
        from dbus_fast import Message

        try:
            fut = bus.send(Message.new_signal(path, iface, member, sig, body or []))
        except Exception as exc:
            log.info("Emitting DBus signal %s.%s on %s failed: %s", iface, member, path, exc)
            return
        self._sent.add(fut)
        fut.add_done_callback(self._sent_done)

    def _sent_done(self, fut: asyncio.Future[Any]) -> None:
        self._sent.discard(fut)
        if not fut.cancelled():
            fut.exception()  # a write that failed as the bus went away: nothing more to say

    # ------------------------------------------------------------------ calls
    def _handle(self, msg: Message) -> Message | bool | None:
        from dbus_fast import MessageFlag, MessageType

        if msg.message_type is MessageType.SIGNAL:
            if (msg.member == "NameAcquired" and msg.sender == "org.freedesktop.DBus"
                    and msg.body and msg.body[0] == self.settings.service_name and self._owner is False):
                self._owner = True  # queued behind another owner, now ours (GDBus on_name_acquired)
                log.info("Acquired the name %s on the session bus", self.settings.service_name)
            return None
        if msg.message_type is not MessageType.METHOD_CALL:
            return None
        try:
            reply = self._call(msg)
        except Exception as exc:  # the daemon must not die of a call
            log.error("internal error answering a DBus call %s.%s: %r", msg.interface, msg.member, exc)
            from dbus_fast import Message as M

            reply = M.new_error(msg, "org.freedesktop.DBus.Error.Failed", "internal error")
        if msg.flags & MessageFlag.NO_REPLY_EXPECTED:
            return True
        return reply

    def _call(self, msg: Message) -> Message:
        from dbus_fast import Message as M

        path, iface, member, sig = msg.path or "/", msg.interface, msg.member, msg.signature
        if iface == PEER and member == "Ping" and sig == "":
            return M.new_method_return(msg)
        if iface == PEER and member == "GetMachineId" and sig == "":
            return M.new_method_return(msg, "s", [machine_id()])
        if path not in self.objects:
            if iface == INTROSPECTABLE and member == "Introspect" and sig == "":
                return M.new_method_return(msg, "s", [introspection(None, self._children(path))])
            return M.new_error(msg, _UNKNOWN_METHOD, f"Object does not exist at path “{path}”")
        name = self.objects[path]
        spec = self._vrrp_iface if name is None else self._inst_iface
        if iface == INTROSPECTABLE and member == "Introspect" and sig == "":
            return M.new_method_return(msg, "s", [introspection(spec, self._children(path))])
        if iface == PROPERTIES and (member, sig) in (("Get", "ss"), ("GetAll", "s"), ("Set", "ssv")):
            return self._properties(msg, spec, path)
        if iface != spec.name:
            return M.new_error(msg, _UNKNOWN_METHOD, f"No such interface “{iface}” on object at path {path}")
        want = spec.methods.get(member or "")
        if want is None:
            return M.new_error(msg, _UNKNOWN_METHOD, f"No such method “{member}”")
        if sig != want:
            return M.new_error(msg, _INVALID_ARGS,
                               f"Type of message, “({sig})”, does not match expected type “({want})”")
        return self._method(msg, member or "", path)

    def _children(self, path: str) -> list[str]:
        """The names one level below `path` that lead to an exported object."""
        pre = "/" if path == "/" else path + "/"
        out: list[str] = []
        for p in self.objects:
            if p.startswith(pre):
                first = p[len(pre):].split("/", 1)[0]
                if first not in out:
                    out.append(first)
        return out

    def _properties(self, msg: Message, spec: Interface, path: str) -> Message:
        from dbus_fast import Message as M
        from dbus_fast import Variant

        iface = msg.body[0]
        if iface != spec.name:
            return M.new_error(msg, _INVALID_ARGS, f"No such interface “{iface}”")
        if msg.member == "GetAll":
            values = {p: v for p in spec.properties if (v := self._property(path, p)) is not None}
            return M.new_method_return(msg, "a{sv}", [{p: Variant(*v) for p, v in values.items()}])
        prop = msg.body[1]
        if prop not in spec.properties:
            return M.new_error(msg, _INVALID_ARGS, f"No such property “{prop}”")
        if msg.member == "Set":
            return M.new_error(msg, _INVALID_ARGS, f"Property “{prop}” is not writable")
        value = self._property(path, prop)
        if value is None:
            return M.new_error(msg, _INVALID_ARGS, f"Instance '{self._ids(path)}' not found")
        return M.new_method_return(msg, "v", [Variant(*value)])

    def _ids(self, path: str) -> str:
        """`IF/VRID/IPvN` of an instance object's path (keepalived get_interface_ids)."""
        return "/".join(path.rsplit("/", 3)[1:])

    def _find(self, path: str) -> BusInstance | None:
        """keepalived get_vrrp_instance: the first running instance on an interface whose path
        component, VRID and family match the object's (none without an interface)."""
        ifname, vrid, fam = path.rsplit("/", 3)[1:]
        for i in self._instances():
            if (i.ifname is not None and valid_path(i.ifname) == ifname and str(i.vrid) == vrid
                    and family_str(i.family) == fam):
                return i
        return None

    def _property(self, path: str, prop: str) -> tuple[str, Any] | None:
        i = self._find(path)
        if i is None:
            return None
        if prop == "Name":
            return "(s)", [i.name]  # keepalived's getter: a structure, as its clients read it
        state = self._state_of(i.name) or 0
        return "(us)", [state, STATE_TEXT.get(state, "Unknown")]

    def _method(self, msg: Message, member: str, path: str) -> Message:
        from dbus_fast import Message as M

        if member == "PrintData":
            log.info("Printing VRRP data on DBus request")
            self.requests.print_data()
        elif member == "PrintStats":
            log.info("Printing VRRP stats on DBus request")
            self.requests.print_stats(False)
        elif member == "PrintStatsClear":
            log.info("Printing and clearing VRRP stats on DBus request")
            self.requests.print_stats(True)
        elif member == "ReloadConfig":
            # keepalived: the reply, then SIGHUP to the parent, which reloads every child
            asyncio.get_running_loop().call_soon(os.kill, os.getppid(), signal.SIGHUP)
        elif member == "SendGarp":
            i = self._find(path)
            if i is None:
                return M.new_error(msg, _INVALID_ARGS, f"Instance '{self._ids(path)}' not found")
            log.info("Sending garps on %s on DBus request", i.name)
            self.requests.send_garp(i.name)
        return M.new_method_return(msg)


async def _system_bus() -> MessageBus:
    """The system bus ($DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket)."""
    from dbus_fast import BusType
    from dbus_fast.aio import MessageBus

    return await MessageBus(bus_type=BusType.SYSTEM).connect()
