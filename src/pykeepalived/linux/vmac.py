# Theory of operation
# -------------------
# use_vmac (keepalived.md §1.11.4, §5.8; RFC 5798 §7.3 virtual MAC 00-00-5E-00-01-{VRID} for IPv4,
# 00-00-5E-00-02-{VRID} for IPv6): one private-mode macvlan per VRRP instance on the instance's
# interface, named as keepalived names it ("vrrp.51"; if the name belongs to an interface that is
# not our VMAC: "vrrp1.51", "vrrp2.51", ...; IPv6 tries "vrrp6.51" first and skips 6 in the
# numbered series). An existing macvlan with the right parent and MAC is reused.
#
# Sysctls keepalived sets, remembered and restored by `SysctlJournal` (first original wins, restored
# in reverse order): on the VMAC accept_local=1, arp_ignore=1, rp_filter=0; on the parent
# arp_ignore=1, arp_filter=1; a non-zero net.ipv4.conf.all.rp_filter is folded into every
# interface's own value (the kernel uses max(all, if)) and then zeroed, so the VMAC's 0 holds.
# Every VMAC gets addr_gen_mode none (no generated link-local address, as keepalived), and an IPv6
# one a /64 link-local address: the configured one, else a copy of the parent's link-local, else
# EUI-64 from the parent's MAC (not with vmac_xmit_base).
#
# /proc/sys writes happen on the calling thread (they are per network namespace and take
# microseconds); netlink goes through the caller's AsyncIPRoute.
"""VMAC (macvlan) interfaces for use_vmac."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
from dataclasses import dataclass, field

from pykeepalived.linux.addresses import IFA_F_NODAD, _as_oserror, _netlink_errno
from pykeepalived.linux.iface import InterfaceInfo, InterfaceNotFound, get_interface, read_sysctl
from pykeepalived.linux.rtnl import AsyncIPRoute
from pykeepalived.vrrp.frames import mac_to_bytes

IFNAMSIZ = 16
ADDR_GEN_MODE_NONE = 1


def vmac_mac(vrid: int, family: int) -> str:
    """RFC 5798 §7.3 virtual router MAC address."""
    return f"00:00:5e:00:{1 if family == 4 else 2:02x}:{vrid:02x}"


def vmac_name_candidates(vrid: int, family: int, prefix: str = "vrrp", limit: int = 100) -> list[str]:
    """keepalived's VMAC names in order of preference, prefix truncated to fit IFNAMSIZ-1."""
    suffix = f".{vrid}"

    def name(num: str) -> str:
        room = IFNAMSIZ - 1 - len(suffix) - len(num)
        return f"{prefix[:room]}{num}{suffix}"

    out = [name("")]
    if family == 6:
        out.append(name("6"))
    out += [name(str(n)) for n in range(1, limit) if not (family == 6 and n == 6)]
    return out


def eui64_link_local(mac: bytes) -> ipaddress.IPv6Address:
    """RFC 4291 appendix A modified EUI-64 interface identifier under fe80::/64."""
    iid = bytes([mac[0] ^ 0x02, mac[1], mac[2], 0xFF, 0xFE, mac[3], mac[4], mac[5]])
    return ipaddress.IPv6Address(b"\xfe\x80" + b"\0" * 6 + iid)


class SysctlJournal:
    """Writes /proc/sys values, remembering the first original of each, and puts them all back."""

    def __init__(self) -> None:
        self._orig: dict[str, str] = {}
        self._order: list[str] = []

    def set(self, key: str, value: int | str) -> OSError | None:
        old = read_sysctl(key)
        if old is None:
            return OSError(errno.ENOENT, f"no sysctl {key}")
        if key not in self._orig:
            self._orig[key] = old
            self._order.append(key)
        if old == str(value):
            return None
        try:
            with open(f"/proc/sys/{key}", "w") as f:
                f.write(str(value))
        except OSError as exc:
            return exc
        return None

    def forget(self, prefix: str) -> None:
        """Drop entries under a directory (an interface that was deleted)."""
        for key in [k for k in self._order if k.startswith(prefix)]:
            self._order.remove(key)
            del self._orig[key]

    def restore(self) -> None:
        for key in reversed(self._order):
            with contextlib.suppress(OSError), open(f"/proc/sys/{key}", "w") as f:
                f.write(self._orig[key])
        self._orig.clear()
        self._order.clear()


@dataclass
class Vmac:
    ifname: str
    ifindex: int
    parent: str
    parent_index: int
    mac: str
    vrid: int
    family: int
    created: bool  # False when an existing matching macvlan was reused
    link_local: ipaddress.IPv6Address | None = None


@dataclass
class VmacManager:
    """Creates/reuses and deletes VMACs; owns the sysctl journal so stop() restores everything."""

    ipr: AsyncIPRoute
    prefix: str = "vrrp"
    journal: SysctlJournal = field(default_factory=SysctlJournal)
    vmacs: dict[str, Vmac] = field(default_factory=dict)

    async def _lookup(self, name: str) -> InterfaceInfo | None:
        try:
            return await get_interface(self.ipr, name)
        except InterfaceNotFound:
            return None

    async def create(
        self,
        parent: str,
        vrid: int,
        family: int = 4,
        *,
        name: str | None = None,
        mac: str | None = None,
        link_local: ipaddress.IPv6Address | None = None,
        xmit_base: bool = False,
        prefix: str | None = None,
    ) -> Vmac:
        """Create (or reuse) the VMAC for an instance (or, with `prefix` = vmac_addr_prefix, for its
        addresses on other interfaces or of the other family); raises OSError if the kernel refuses."""
        par = await get_interface(self.ipr, parent)
        mac = (mac or vmac_mac(vrid, family)).lower()
        names = [name] if name else vmac_name_candidates(vrid, family, prefix or self.prefix)
        chosen: str | None = None
        reuse: InterfaceInfo | None = None
        for cand in names:
            info = await self._lookup(cand)
            if info is None:
                chosen = cand
                break
            if info.kind == "macvlan" and info.link == par.ifindex and info.mac == mac_to_bytes(mac):
                chosen, reuse = cand, info
                break
        if chosen is None:
            raise OSError(errno.EEXIST, f"no free VMAC name for VRID {vrid} on {parent}")
        if reuse is None:
            try:
                await self.ipr.link(
                    "add",
                    ifname=chosen,
                    kind="macvlan",
                    link=par.ifindex,
                    macvlan_mode="private",
                    address=mac,
                )
            except Exception as exc:
                raise _as_oserror(exc) from exc
        info = await get_interface(self.ipr, chosen)
        vmac = Vmac(
            ifname=chosen,
            ifindex=info.ifindex,
            parent=parent,
            parent_index=par.ifindex,
            mac=mac,
            vrid=vrid,
            family=family,
            created=reuse is None,
        )
        self._set_sysctls(chosen, parent)
        # no generated link-local address, whatever the family (keepalived: IN6_ADDR_GEN_MODE_NONE on
        # every VMAC); an IPv6 one gets its own below
        self.journal.set(f"net/ipv6/conf/{chosen}/addr_gen_mode", ADDR_GEN_MODE_NONE)
        try:
            await self.ipr.link("set", index=info.ifindex, state="up")
            if family == 6 and not xmit_base:
                ll = link_local or par.link_local_ipv6() or eui64_link_local(par.mac)
                try:
                    await self.ipr.addr(
                        "add", index=info.ifindex, address=str(ll), prefixlen=64, flags=IFA_F_NODAD
                    )
                except Exception as exc:
                    if _netlink_errno(exc) != errno.EEXIST:
                        raise
                vmac.link_local = ll
        except Exception as exc:
            raise _as_oserror(exc) from exc
        self.vmacs[chosen] = vmac
        return vmac

    def _set_sysctls(self, vmac: str, parent: str) -> None:
        j = self.journal
        all_rp = read_sysctl("net/ipv4/conf/all/rp_filter")
        if all_rp not in (None, "0"):
            assert all_rp is not None
            for dev in os.listdir("/proc/sys/net/ipv4/conf"):
                if dev in ("all", vmac):
                    continue
                own = read_sysctl(f"net/ipv4/conf/{dev}/rp_filter") or "0"
                if int(own) < int(all_rp):
                    j.set(f"net/ipv4/conf/{dev}/rp_filter", all_rp)
            j.set("net/ipv4/conf/all/rp_filter", 0)
        j.set(f"net/ipv4/conf/{vmac}/accept_local", 1)
        j.set(f"net/ipv4/conf/{vmac}/arp_ignore", 1)
        j.set(f"net/ipv4/conf/{vmac}/rp_filter", 0)
        j.set(f"net/ipv4/conf/{vmac}/promote_secondaries", 1)
        j.set(f"net/ipv4/conf/{parent}/arp_ignore", 1)
        j.set(f"net/ipv4/conf/{parent}/arp_filter", 1)

    async def delete(self, vmac: Vmac) -> OSError | None:
        """Remove a VMAC (already gone is fine)."""
        self.vmacs.pop(vmac.ifname, None)
        self.journal.forget(f"net/ipv4/conf/{vmac.ifname}/")
        self.journal.forget(f"net/ipv6/conf/{vmac.ifname}/")
        try:
            await self.ipr.link("del", index=vmac.ifindex)
        except Exception as exc:
            if _netlink_errno(exc) in (errno.ENODEV, errno.ENOENT):
                return None
            return _as_oserror(exc)
        return None

    async def close(self) -> None:
        """Delete every VMAC and put the original sysctls back (daemon shutdown)."""
        for vmac in list(self.vmacs.values()):
            await self.delete(vmac)
        self.journal.restore()


def ifname_valid(name: str) -> bool:
    """keepalived's check for a user-given VMAC name."""
    return (
        0 < len(name) < IFNAMSIZ and not any(c in name for c in "/:") and not any(c.isspace() for c in name)
    )


__all__ = [
    "SysctlJournal",
    "Vmac",
    "VmacManager",
    "eui64_link_local",
    "ifname_valid",
    "vmac_mac",
    "vmac_name_candidates",
]
