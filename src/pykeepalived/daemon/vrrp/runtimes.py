"""The VRRP child's Runtime entries: what the daemon builds around each configured instance.

`RuntimeBuilder` turns a vrrp_instance of the configuration into a core instance with its Runtime
(daemon/vrrp/executor.py): the interface looked up, its VMAC created (use_vmac, use_vmac_addr), its VIPs
and eVIPs as addresses on their interfaces, its virtual routes and rules, and its receive socket,
shared by the instances of one interface, family, group and source (keepalived vrrp_complete_instance
and open_vrrp_read_socket). The child builds every instance with it at start and at a reload;
daemon/vrrp/dynif.py binds the instances of an interface created later with `build_addresses` and
`socket_for`. It owns the socket pool (`sockets`, with their receive buffers `rx_bufs`); it touches
the kernel only through linux/ (netlink, VMACs, sockets).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from pykeepalived.config.instance_setup import instance_setup
from pykeepalived.config.model import Model, VipSpec, VmacSpec
from pykeepalived.config.model import VrrpInstance as ConfInstance
from pykeepalived.config.to_params import instance_params
from pykeepalived.config.vrrp_extra import address_vmac_lines, vmac_addr_prefix
from pykeepalived.daemon.addrmap import address_from_spec, route_from_config, rule_from_config
from pykeepalived.daemon.log import DETAIL, log
from pykeepalived.daemon.vrrp.firewall import Firewall
from pykeepalived.daemon.vrrp.instances import Runtime
from pykeepalived.daemon.vrrp.sockbufs import vrrp_rx_buf
from pykeepalived.linux.iface import (
    IFF_MULTICAST,
    IFF_NOARP,
    IFF_POINTOPOINT,
    AddressInfo,
    InterfaceInfo,
    InterfaceNotFound,
    dump_addresses,
    get_interface,
)
from pykeepalived.linux.rcvbuf import SocketRxBufs
from pykeepalived.linux.vmac import Vmac, VmacManager
from pykeepalived.linux.vrrp_socket import UnicastBindError, VrrpSocket
from pykeepalived.track.script import ScriptTrackers
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.packet import AH_PROTO, VRRP_PROTO, RxPacket
from pykeepalived.vrrp.params import AuthType, InstanceParams, IPAddress

SocketKey = tuple[str, int, IPAddress | None, IPAddress | None, int]
"""A receive socket's interface, family, multicast group, unicast source and protocol."""


def log_missing(ifname: str) -> None:
    log.info("Configuration specifies interface %s which doesn't currently exist - will use if created",
             ifname)


class _Interfaces:
    """The interfaces the instances of one load are on, each looked up once; the namespace's
    addresses are dumped once for all of them (with 1,000 VIPs left by a killed child on 4
    interfaces, one dump of them instead of four, parsed by linux/iface.py dump_addresses)."""

    def __init__(self, ipr: Any) -> None:  # AsyncIPRoute, as RuntimeBuilder's
        self.ipr = ipr
        self.known: dict[str, InterfaceInfo | None] = {}
        self.addresses: list[AddressInfo] | None = None

    async def get(self, name: str) -> InterfaceInfo | None:
        if name not in self.known:
            try:
                if self.addresses is None:
                    self.addresses = dump_addresses()  # the child's namespace, as its ipr
                self.known[name] = await get_interface(self.ipr, name, self.addresses)
            except InterfaceNotFound:
                self.known[name] = None
        return self.known[name]


class RuntimeBuilder:
    """Builds the Runtime entries of the configuration's instances; owns their sockets."""

    def __init__(self, ipr: Any, vmacs: VmacManager, firewall: Firewall | None, ifnames: dict[int, str],
                 on_packet: Callable[[RxPacket], None], running_model: Callable[[], Model | None]) -> None:
        self.ipr = ipr
        self.vmacs = vmacs
        self.firewall = firewall  # a VMAC gets its rules when created
        self.ifnames = ifnames  # the engine's receiving interface names by index (its log lines)
        self.on_packet = on_packet  # every socket's received adverts
        self.running_model = running_model  # the receive buffer sizes follow the running configuration
        self.sockets: dict[SocketKey, VrrpSocket] = {}
        self.rx_bufs = SocketRxBufs()
        self._assigned_logged: set[str] = set()  # interfaces whose first instance was logged (-D)
        self._addr_vmacs: set[str] = set()  # address VMACs already reported (use_vmac_addr)
        # every address this daemon adds (VIPs, eVIPs, static addresses) of the running load and the
        # one before (still on the interfaces while a reload settles): never an interface's own
        # address, so never an instance's source nor the `Assigned address` of an interface
        # (keepalived: ignore_address_if_ours_or_link_local)
        self._ours: frozenset[IPAddress] = frozenset()
        self._loaded: frozenset[IPAddress] = frozenset()

    def new_load(self) -> None:
        """keepalived logs an interface's addresses at every load of the configuration."""
        self._assigned_logged.clear()

    async def runtimes(self, model: Model, scripts: ScriptTrackers | None) -> dict[str, Runtime]:
        """Every instance of `model` with its addresses, VMAC and socket, in configuration order (not
        registered with the engine yet)."""
        rts = {}
        ifaces = _Interfaces(self.ipr)  # one netlink look-up per interface, one address dump for all
        added = frozenset(v.address for i in model.vrrp_instances for v in (*i.vips, *i.evips))
        added |= frozenset(v.address for v in model.static_ipaddress)
        self._ours, self._loaded = self._loaded | added, added
        for conf in model.vrrp_instances:
            if conf.vrid is None:
                continue
            if (rt := await self._new_runtime(model, conf, ifaces, scripts)) is not None:
                rts[conf.name] = rt
        ours = {rt.vmac.ifname for rt in rts.values() if rt.vmac is not None} | self._addr_vmacs
        for name, line in vmac_conflicts(list(rts.values()), ours):
            log.error("%s", line)
            rts[name].inst.config_faulted()
        return rts

    async def _new_runtime(self, model: Model, conf: ConfInstance, ifaces: _Interfaces,
                           scripts: ScriptTrackers | None) -> Runtime | None:
        params = instance_params(model, conf)
        if params.config_fault:  # keepalived vrrp_complete_instance (unicast_fault_no_peer)
            log.info("(%s) Cannot use unicast without any peers - going to fault state", conf.name)
        iface: InterfaceInfo | None = None
        if params.interface is not None:
            iface = await ifaces.get(params.interface)
            if iface is None:
                if not model.global_defs.dynamic_interfaces:
                    log.error("(%s) interface %s doesn't exist", conf.name, params.interface)
                    return None
                log_missing(params.interface)  # daemon/vrrp/dynif.py attaches it when created

        if iface is not None and iface.ifindex:  # keepalived vrrp_complete_instance, on the interface
            if not iface.flags & IFF_MULTICAST and not params.is_unicast:
                log.error("(%s) interface %s does not support multicast, specify unicast peers - disabling",
                          conf.name, iface.ifname)
                params = dataclasses.replace(params, config_fault=True)  # held in FAULT for good
            if iface.flags & IFF_NOARP and not iface.flags & IFF_POINTOPOINT:
                log.log(DETAIL, "(%s) disabling ARP since interface does not support it", conf.name)
        if iface is not None and iface.ifname not in self._assigned_logged:
            # keepalived add_vrrp_to_interface (with -D): the first instance on an interface
            self._assigned_logged.add(iface.ifname)
            ours = self._ours | set(params.vips) | set(params.evips)
            for addr in (iface.primary_ipv4(ours), iface.link_local_ipv6(ours)):
                if addr is not None:
                    log.log(DETAIL, "Assigned address %s for interface %s", addr, iface.ifname)
        inst = VrrpInstance(params)
        setup = instance_setup(model, conf)
        rt = Runtime(params, setup, inst, iface)
        if iface is not None and setup.use_vmac is None and setup.promote_secondaries:
            # keepalived set_promote_secondaries: set unless already on; put back at shutdown
            self.vmacs.journal.set(f"net/ipv4/conf/{iface.ifname}/promote_secondaries", 1)
        if setup.use_vmac is not None and iface is not None:
            rt.vmac = await self._vmac(setup.use_vmac, setup.vmac_xmit_base, params, iface)
            if self.firewall is not None:
                await self.firewall.vmac_added(rt)
        group4 = model.global_defs.vrrp_mcast_group4
        if isinstance(group4, IPv4Address):
            rt.group4 = group4
        for line in address_vmac_lines(conf):
            log.error("%s", line)
        await self.build_addresses(rt, model)
        rt.routes = [route_from_config(r) for r in setup.virtual_routes]
        rt.rules = [rule_from_config(r) for r in setup.virtual_rules]
        try:
            rt.sock = self.socket_for(rt)
        except UnicastBindError as exc:  # keepalived open_vrrp_read_socket; FAULT at start
            log.info("bind unicast_src %s failed %d - %s", exc.filename, exc.errno or 0, exc.strerror)
            inst.socket_unusable()
        except OSError as exc:
            log.error("(%s) cannot open VRRP socket: %s", conf.name, exc)
        if iface is not None:
            src = params.src_ip or self.primary(iface, params)
            if rt.vmac is not None and rt.vmac.link_local is not None and params.family == 6:
                src = params.src_ip or rt.vmac.link_local  # a VMAC advertises from its own link-local
            inst.set_source_address(src, 0)
            if not params.dont_track_primary:
                inst.set_link(iface.up and iface.running, 0)
        elif params.interface is not None:  # dynamic_interfaces: not created yet
            inst.set_link(False, 0)
            inst.set_source_address(None, 0)
        if scripts is not None:
            for t in params.tracks:
                if t.kind == "script" and t.name in scripts.trackers:
                    inst.set_tracker("script", t.name, scripts[t.name].ok, 0)
        return rt

    async def build_addresses(self, rt: Runtime, model: Model) -> None:
        """The instance's VIPs and eVIPs as addresses on their interfaces (again when a
        dynamic_interfaces interface appears)."""
        setup = rt.setup
        for spec in setup.vips + setup.evips:
            dev = self._address_dev(rt, spec)
            if dev is not None and spec.address in setup.address_vmacs:  # use_vmac_addr
                p = rt.params
                dev = await self._address_vmac(model, p.name, p.vrid, dev, spec.address.version)
            # `dev <interface>` of the instance's family moves to the VMAC
            if spec.dev is not None and dev is not None and dev != spec.dev:
                spec = dataclasses.replace(spec, dev=dev)
            a = address_from_spec(spec, dev)
            if a is not None:
                rt.addresses[spec.address] = a

    @staticmethod
    def _address_dev(rt: Runtime, spec: VipSpec) -> str | None:
        """Where a VIP/eVIP lives (keepalived vrrp_complete_instance): with use_vmac, one of the
        instance's family without `dev` (or with the instance's interface as `dev`) on the VMAC,
        any other (another family's eVIP) on the configured interface itself."""
        base = rt.iface.ifname if rt.iface is not None else None
        if rt.vmac is not None and spec.dev in (None, base) and spec.address.version == rt.params.family:
            return rt.vmac.ifname
        return spec.dev or base

    async def _vmac(self, spec: VmacSpec, xmit_base: bool, p: InstanceParams,
                    iface: InterfaceInfo) -> Vmac | None:
        """use_vmac [NAME] [MAC] ...: keepalived.md §1.11.4 / §5.8."""
        name, mac = spec.name, spec.mac
        try:
            ll = p.src_ip if isinstance(p.src_ip, IPv6Address) else None
            vmac = await self.vmacs.create(iface.ifname, p.vrid, p.family, name=name, mac=mac,
                                           link_local=ll, xmit_base=xmit_base)
        except OSError as exc:
            log.error("(%s) Unable to create VMAC interface: %s", p.name, exc)
            return None
        if vmac.created:
            log.log(DETAIL, "(%s): Success creating VMAC interface %s", p.name, vmac.ifname)
        else:  # a reload's (or a previous run's): keepalived vrrp_complete_instance
            log.info("(%s) Found matching interface %s", p.name, vmac.ifname)
        return vmac

    async def _address_vmac(self, model: Model, name: str, vrid: int, parent: str, family: int) -> str:
        """The VMAC of a VIP/eVIP on `parent` (keepalived vrrp_complete_instance, use_vmac_addr):
        one per parent and family, named with vmac_addr_prefix; the parent itself if that fails."""
        try:
            vmac = await self.vmacs.create(parent, vrid, family, prefix=vmac_addr_prefix(model))
        except OSError as exc:
            log.error("(%s) Unable to create VMAC interface on %s: %s", name, parent, exc)
            return parent
        if vmac.ifname not in self._addr_vmacs:
            self._addr_vmacs.add(vmac.ifname)
            log.log(DETAIL, "(%s): Success creating VMAC interface %s", name, vmac.ifname)
        return vmac.ifname

    def primary(self, iface: InterfaceInfo, p: InstanceParams) -> IPAddress | None:
        """The source address of an instance without one configured (keepalived: the interface's
        primary IPv4 address, its link-local IPv6 one). Deliberately unlike keepalived 2.2.7: an IPv6
        unicast instance whose peers are all global uses the interface's global address, as if it were
        its unicast_src_ip; keepalived binds its receive socket to the link-local address, so the
        adverts its peers send to the address they list are never received and both ends become
        MASTER (docs/migration.md)."""
        exclude = self._ours | set(p.vips) | set(p.evips)
        if p.family == 4:
            return iface.primary_ipv4(exclude)
        if p.is_unicast and not any(peer.address.is_link_local for peer in p.unicast_peers):
            return iface.global_ipv6(exclude) or iface.link_local_ipv6(exclude)
        return iface.link_local_ipv6(exclude)

    def socket_for(self, rt: Runtime) -> VrrpSocket | None:
        p = rt.params
        xmit_base = rt.setup.vmac_xmit_base
        ifname = rt.vmac.ifname if rt.vmac and not xmit_base else (rt.iface.ifname if rt.iface else None)
        if ifname is None:
            return None
        proto = AH_PROTO if p.auth_type is AuthType.AH else VRRP_PROTO
        usrc = None
        if p.is_unicast:
            # keepalived binds the unicast receive socket to unicast_src_ip, else to the interface's
            # primary address (keepalived.md §5.1, §5.9)
            usrc = p.src_ip or (self.primary(rt.iface, p) if rt.iface else None)
            if usrc is None:
                log.error("(%s) no source address for unicast adverts on %s", p.name, ifname)
                return None
        group = None if p.is_unicast else p.mcast_group
        key = (ifname, p.family, group, usrc, proto)
        sock = self.sockets.get(key)
        if sock is None:
            sock = VrrpSocket(ifname=ifname, family=p.family, group=group, unicast_src=usrc, proto=proto)
            sock.start(self.on_packet)
            self.sockets[key] = sock
            self.ifnames[sock.ifindex] = ifname
        self.rx_bufs.attach(sock.rx, p.name, vrrp_rx_buf(self.running_model(), rt))  # daemon/vrrp/sockbufs.py
        return sock


def sync_groups(model: Model, rts: Mapping[str, Runtime]) -> list[tuple[str, list[str]]]:
    """The sync groups of `model` with their members that run."""
    groups = [(g.name, [m for m in g.members if m in rts]) for g in model.sync_groups]
    return [(name, members) for name, members in groups if members]


def rx_ifindex(rt: Runtime) -> int:
    """Received adverts are matched to instances by the receiving interface (a VMAC's own index)."""
    return rt.sock.ifindex if rt.sock else (rt.iface.ifindex if rt.iface else 0)


def vmac_conflicts(rts: list[Runtime], ours: set[str]) -> list[tuple[str, str]]:
    """keepalived check_vmac_conflicts: instances with one VRID outside a common sync group that
    put addresses on the same VMAC (`ours`: the VMACs the VRRP child made or adopted). Each
    (instance disabled, line), in keepalived's order: every instance against those before it."""
    def dev(rt: Runtime, spec: VipSpec) -> str | None:
        a = rt.addresses.get(spec.address)
        return a.dev if a is not None else None

    # VRRP_FLAG_EVIP_OTHER_FAMILY (set with a VMAC only)
    eof = {id(rt): rt.vmac is not None and any(e.address.version != rt.params.family for e in rt.setup.evips)
           for rt in rts}
    out: list[tuple[str, str]] = []
    by_vrid: dict[int, list[Runtime]] = {}
    for rt in rts:
        by_vrid.setdefault(rt.params.vrid, []).append(rt)
    for rt in rts:
        for rt1 in by_vrid[rt.params.vrid]:
            if rt1 is rt:
                break
            if rt.params.sync_group is not None and rt.params.sync_group == rt1.params.sync_group:
                continue
            same = rt.params.family == rt1.params.family
            if not same and not eof[id(rt)] and not eof[id(rt1)]:
                continue
            a, b = rt.params.name, rt1.params.name
            if rt.vmac is not None and (same or eof[id(rt1)]):
                for v in (rt1.setup.vips + rt1.setup.evips) if same else rt1.setup.evips:
                    if dev(rt1, v) == rt.vmac.ifname:
                        line = f"({b}) VIP/eVIP {v.text} uses same VMAC as VRRP instance {a}, disabling {a}"
                        out.append((a, line))
            for ev, lst in ((False, rt.setup.vips), (True, rt.setup.evips)):
                for ev1, lst1 in ((False, rt1.setup.vips), (True, rt1.setup.evips)):
                    if not same and not ((ev and eof[id(rt)]) or (ev1 and eof[id(rt1)])):
                        continue  # keepalived's four skips: another family only through such eVIPs
                    for v in lst:
                        d = dev(rt, v)
                        if d not in ours:
                            continue
                        for v1 in lst1:
                            if dev(rt1, v1) == d:
                                out.append((a, f"({b}) VIP/eVIP {v.text} uses same VMAC as VRRP instance "
                                               f"{a} VIP/eVIP {v1.text}, disabling {a}"))
    return out
