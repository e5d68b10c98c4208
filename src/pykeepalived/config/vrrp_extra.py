# Theory of operation
# -------------------
# Validation of a few vrrp_instance / global_defs keywords, with keepalived 2.2.7's texts
# (vrrp_parser.c vrrp_garp_extra_if_handler, global_parser.c vrrp_vmac_garp_extra_if_handler,
# vrrp.c vrrp_complete_instance):
#
# * `garp_extra_if [all] SECS` (instance, 0..86400) and `vrrp_garp_extra_if [all] SECS` (global,
#   1..86400); the words come in any order and each is `all` or a number. keepalived sets the `all`
#   flag as it meets the word, so `all` survives a later invalid word (the time is then unset and
#   the global one applies). The value kept is (SECS or None, all).
# * A "unicast keyword" (unicast_src_ip, unicast_peer, check_unicast_src, old_unicast_checksum,
#   unicast_fault_no_peer) without any peer: multicast with a deprecation error, or, with
#   `unicast_fault_no_peer`, an instance held in FAULT (the daemon logs "Cannot use unicast ...");
#   with use_vmac such an instance sends from the parent (vmac_xmit_base forced).
# * `promote_secondaries` with use_vmac is refused (keepalived sets it on VMACs itself).
"""keepalived 2.2.7 checks for garp_extra_if, unicast_fault_no_peer and promote_secondaries."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pykeepalived.config.diag import NOWHERE, ConfigErr, Loc, Reporter
from pykeepalived.config.model import Model, VipSpec, VmacSpec, VrrpInstance
from pykeepalived.config.types import IPAddr, parse_int

UNICAST_KEYWORDS = frozenset(
    {"unicast_src_ip", "unicast_peer", "check_unicast_src", "old_unicast_checksum", "unicast_fault_no_peer"}
)


def garp_extra_words(
    words: tuple[str, ...], cmd: str, loc: Loc, rep: Reporter, iname: str | None
) -> tuple[int | None, bool]:
    """Parse `[all] SECS` for the instance (`iname` given) or global form: (SECS or None, all)."""
    lo = 0 if iname is not None else 1
    prefix = f"({iname}): " if iname is not None else ""
    secs: int | None = None
    all_if = False
    for w in words:
        if w == "all":
            all_if = True
            continue
        v = parse_int(w, lo, 86400, loc, rep)
        if v is None:
            rep.error(loc, f"{prefix}{cmd} '{w}' invalid - ignoring")
            return None, all_if
        secs = v
    if secs is None or (iname is None and secs == 0):
        rep.error(loc, f"{prefix}{cmd} specified without time - ignoring")
        return None, all_if
    return secs, all_if


def instance_checks(name: str, kws: set[str], has_peers: bool, use_vmac: bool, rep: Reporter) -> None:
    """vrrp_complete_instance's errors for these keywords (no file position, as keepalived)."""
    if kws & UNICAST_KEYWORDS and not has_peers and "unicast_fault_no_peer" not in kws:
        rep.error(
            NOWHERE,
            f"({name}) A unicast keyword has been specified without any unicast peers. Defaulting to "
            "multicast. This usage is deprecated - please update your configuration.",
            ConfigErr.DEPRECATED,
        )
    if "promote_secondaries" in kws and use_vmac:
        rep.error(NOWHERE, f"({name}) promote_secondaries is automatically set for vmacs - ignoring")


def _vip_interfaces(model: Model, i: VrrpInstance) -> list[tuple[str, IPAddr]]:
    """(interface, address) of each VIP then eVIP, as vrrp_complete_instance places them: with
    use_vmac, one of the instance's family without `dev` (or `dev` = the instance's interface) is on
    the VMAC (named "" here: the instance's own interface), any other on its `dev` or the configured
    interface (keepalived.md §1.11.4)."""
    out: list[tuple[str, IPAddr]] = []
    base = i.interface or model.global_defs.default_interface or ""
    for spec in (*i.vips, *i.evips):
        if i.use_vmac is not None and spec.dev in (None, base) and spec.address.version == i.family:
            out.append(("", spec.address))
        elif needs_address_vmac(i, spec, model):  # an address VMAC: "vmac:" + parent + family
            out.append((f"vmac:{spec.dev or base}:{spec.address.version}", spec.address))
        else:
            out.append((spec.dev or base, spec.address))
    return out


def garp_extra_if_setting(model: Model, i: VrrpInstance) -> tuple[int, bool]:
    """(SECS, all) of the instance: its own garp_extra_if, else the global vrrp_garp_extra_if, whose
    `all` then applies (keepalived vrrp_complete_instance; `all` is the instance's
    VRRP_FLAG_VMAC_GARP_ALL_IF, set even where no extra interface leaves SECS in use)."""
    own = dict(i.options).get("garp_extra_if")
    secs, all_if = own if isinstance(own, tuple) else (None, False)
    if secs is None:
        gsecs, gall = model.global_defs.garp_extra_if
        return gsecs, all_if or gall
    return secs, all_if


def garp_extra_if(model: Model, i: VrrpInstance) -> dict[str, Any]:
    """InstanceParams fields for garp_extra_if (keepalived vrrp_complete_instance and
    vrrp_send_vmac_update): the instance's own setting, else the global one (whose `all` then applies);
    off unless some VIP/eVIP lives on another interface than the instance's (VMAC or configured one):
    an address VMAC (use_vmac_addr, or `use_vmac` on the address), or with `all` any interface.
    Addresses: the first on each such interface (only address VMACs without `all`), and with
    vmac_xmit_base the instance's own VMAC too."""
    secs, all_if = garp_extra_if_setting(model, i)
    placed = _vip_interfaces(model, i)
    own_if = "" if i.use_vmac is not None else (i.interface or "")
    extra_vmac = any(dev.startswith("vmac:") for dev, _ in placed)
    extra_if = any(dev != own_if and not dev.startswith("vmac:") for dev, _ in placed)
    if not secs or not (extra_vmac or (extra_if and all_if)):
        return {}
    xmit_base = i.use_vmac is not None and i.vmac_xmit_base
    seen: dict[str, IPAddr] = {}
    for dev, addr in placed:
        ours = dev.startswith("vmac:") or dev == ""
        if (not ours and not all_if) or (dev == own_if and not xmit_base):
            continue
        seen.setdefault(dev, addr)
    return {"garp_extra_if_us": secs * 1_000_000, "garp_extra_if_addrs": tuple(seen.values())}


def address_vmac_lines(i: VrrpInstance) -> list[str]:
    """keepalived vrrp_complete_instance's lines (after the instance's VMAC is made) for a VIP/eVIP
    marked `use_vmac` whose mark has no effect: the instance's own VMAC carries it, or
    use_vmac_addr gives it one anyway (needs_address_vmac places it as without the mark)."""
    lines = []
    for spec in (*i.vips, *i.evips):
        if not spec.use_vmac:
            continue
        if spec.dev in (None, i.interface) and i.use_vmac is not None and spec.address.version == i.family:
            lines.append(f"({i.name}) use_vmac specified for VIP/eVIP {spec.text} and vrrp instance")
        elif (spec.dev not in (None, i.interface) or spec.address.version != i.family) and i.use_vmac_addr:
            lines.append(f"({i.name}) use_vmac_addr specified and use_vmac specified for VIP/eVIP "
                         f"{spec.text}")
    return lines


def needs_address_vmac(i: VrrpInstance, spec: VipSpec, model: Model) -> bool:
    """A VIP/eVIP that gets a VMAC of its own (keepalived vrrp_complete_instance): one marked
    `use_vmac`, or with `use_vmac_addr` one on another interface or of the other family; never one
    the instance's own VMAC carries (its family, no `dev` or `dev` = the instance's interface)."""
    base = i.interface or model.global_defs.default_interface or ""
    if spec.dev in (None, base):
        if i.use_vmac is not None and spec.address.version == i.family:
            return False
        return spec.use_vmac or (i.use_vmac_addr and spec.address.version != i.family)
    return spec.use_vmac or i.use_vmac_addr


def vmac_addr_prefix(model: Model) -> str | None:
    """Name prefix of address VMACs: vmac_addr_prefix, else vmac_prefix, else "vrrp"."""
    g = model.global_defs
    return g.vmac_addr_prefix or g.vmac_prefix or "vrrp"


def vmac_spec(words: tuple[str, ...]) -> VmacSpec:
    """The words of `use_vmac`."""
    name = mac = None
    for w in words:
        if w == "netlink_notify_msg":
            continue
        if w.count(":") == 5 and mac is None:
            mac = w
        elif name is None and w != "group":
            name = w
    return VmacSpec(name, mac, words)


def unicast_vmac(i: VrrpInstance, kws: set[str], end: Loc, rep: Reporter) -> VrrpInstance:
    """keepalived vrrp_end_handler: a "unicast" instance (any unicast keyword, peers or not) with
    use_vmac sends from the parent (vmac_xmit_base forced), or, without an interface, loses use_vmac."""
    if not kws & UNICAST_KEYWORDS or i.use_vmac is None:
        return i
    if i.interface is None:
        rep.error(end, f"({i.name}): Cannot use VMAC/ipvlan with unicast and no interface - clearing "
                  "use_vmac")
        return replace(i, use_vmac=None)
    if "vmac_xmit_base" not in kws:
        rep.error(end, f"({i.name}) unicast with use_vmac requires vmac_xmit_base - setting")
        return replace(i, vmac_xmit_base=True)
    return i
