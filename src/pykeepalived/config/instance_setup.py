"""What the VRRP child's wiring reads of a vrrp_instance beyond the core's InstanceParams, typed once.

The core runs an instance from `InstanceParams` (config/to_params.py). Around it the daemon places
the VIPs/eVIPs as configured (dev, label, scope...), makes its VMAC, its virtual routes and rules,
sizes its receive socket and opens the firewall; the data/JSON dumps, SNMP and the control socket
show a few settings the core does not use. `InstanceSetup` holds exactly those, read from the
block once, so the daemon's `Runtime` carries typed values only and never the configuration
block itself (issue 14: no keyword read by name, no raw record, outside config).
"""

from __future__ import annotations

from dataclasses import dataclass

from pykeepalived.config.model import Model, Track, VmacSpec, VrrpInstance
from pykeepalived.config.routes import Route
from pykeepalived.config.rules import Rule
from pykeepalived.config.types import IPAddr
from pykeepalived.config.vips import VipSpec
from pykeepalived.config.vrrp_extra import garp_extra_if_setting, needs_address_vmac


@dataclass(frozen=True, slots=True)
class InstanceSetup:
    """A vrrp_instance's settings the wiring around the core reads (a read-only view)."""

    vips: tuple[VipSpec, ...] = ()
    evips: tuple[VipSpec, ...] = ()
    # the VIPs/eVIPs that get an address VMAC (use_vmac on the address, or use_vmac_addr)
    address_vmacs: frozenset[IPAddr] = frozenset()
    virtual_routes: tuple[Route, ...] = ()
    virtual_rules: tuple[Rule, ...] = ()
    tracks: tuple[Track, ...] = ()  # as written in the block (the core's are resolved)
    use_vmac: VmacSpec | None = None
    vmac_xmit_base: bool = False
    use_vmac_addr: bool = False
    accept: bool | None = None  # `accept` / `no_accept`; None: not given (strict mode decides)
    promote_secondaries: bool = False
    linkbeat_use_polling: bool = False
    kernel_rx_buf_size: int = 0
    unicast_fault_no_peer: bool = False
    track_src_ip: bool = False
    src_ip_configured: bool = False  # unicast_src_ip or mcast_src_ip given
    garp_extra_if_all: bool = False  # keepalived's VRRP_FLAG_VMAC_GARP_ALL_IF
    notify_deleted: bool = False  # a notify_deleted line (the instance's stop at a reload)


def instance_setup(model: Model, i: VrrpInstance) -> InstanceSetup:
    return InstanceSetup(
        vips=i.vips, evips=i.evips,
        address_vmacs=frozenset(s.address for s in (*i.vips, *i.evips) if needs_address_vmac(i, s, model)),
        virtual_routes=i.virtual_routes, virtual_rules=i.virtual_rules, tracks=i.tracks,
        use_vmac=i.use_vmac, vmac_xmit_base=i.vmac_xmit_base, use_vmac_addr=i.use_vmac_addr,
        accept=i.accept, promote_secondaries=i.promote_secondaries,
        linkbeat_use_polling=i.linkbeat_use_polling, kernel_rx_buf_size=i.kernel_rx_buf_size or 0,
        unicast_fault_no_peer=i.unicast_fault_no_peer, track_src_ip=i.track_src_ip,
        src_ip_configured=i.unicast_src_ip is not None or i.mcast_src_ip is not None,
        garp_extra_if_all=garp_extra_if_setting(model, i)[1],
        notify_deleted=any(kw == "notify_deleted" for kw, _ in i.notify),
    )
