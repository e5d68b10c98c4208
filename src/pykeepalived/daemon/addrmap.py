"""keepalived.conf address entries (config model) → netlink operations (linux layer).

keepalived.md §1.4: `ADDR[/PREFIX] [dev IF] [brd ADDR|+|-] [scope SCOPE] [label LABEL] [peer ADDR]
[home] [-nodad] [noprefixroute] [autojoin] [preferred_lft 0|forever] [no_track]`.
"""

from __future__ import annotations

import ipaddress

from pykeepalived.config.model import VipSpec
from pykeepalived.linux.addresses import Address, broadcast_for

_SCOPES = {"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
_IFA_FLAGS = {"home": 0x10, "-nodad": 0x02, "mngtmpaddr": 0x100, "noprefixroute": 0x200, "autojoin": 0x400}


def address_from_spec(spec: VipSpec, default_dev: str | None) -> Address | None:
    """Build the netlink view of one configured address; None if it has no interface to live on."""
    words = list(spec.options)
    dev = default_dev
    brd: ipaddress.IPv4Address | None = None
    brd_sign: str | None = None
    scope = 0
    label = None
    peer = None
    flags = 0
    preferred: int | None = None
    no_track = False
    i = 0
    while i < len(words):
        w = words[i]
        val = words[i + 1] if i + 1 < len(words) else None
        if w == "dev" and val:
            dev, i = val, i + 2
        elif w in ("brd", "broadcast") and val:
            if val in ("+", "-"):
                brd_sign = val
            else:
                brd = ipaddress.IPv4Address(val)
            i += 2
        elif w == "scope" and val:
            scope = _SCOPES.get(val, int(val) if val.isdigit() else 0)
            i += 2
        elif w == "label" and val:
            label, i = val, i + 2
        elif w == "peer" and val:
            peer, i = ipaddress.ip_address(val.split("/")[0]), i + 2
        elif w == "preferred_lft" and val:
            preferred, i = (0 if val == "0" else None), i + 2
        elif w in _IFA_FLAGS:
            flags |= _IFA_FLAGS[w]
            i += 1
        elif w == "no_track":
            no_track, i = True, i + 1
        else:
            i += 1
    if dev is None:
        return None
    if brd_sign is not None and isinstance(spec.address, ipaddress.IPv4Address):
        brd = broadcast_for(spec.address, spec.prefix, brd_sign)
    return Address(
        address=spec.address,
        dev=dev,
        prefixlen=spec.prefix,
        broadcast=brd,
        scope=scope,
        label=label,
        peer=peer,
        flags=flags,
        preferred_lft=preferred,
        no_track=no_track,
    )
