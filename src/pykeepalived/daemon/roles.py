"""Which children the parent starts for a configuration (read in its configuration fork)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pykeepalived.options import Options

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pykeepalived.config.diag import Diagnostic
    from pykeepalived.config.model import Model


def roles_for(model: Model, opts: Options, diags: Sequence[Diagnostic] = ()) -> list[str]:
    """Which children to start (keepalived: a child only if it has configuration, or --all; an
    instance the file fails, so that the VRRP child stops the daemon with keepalived's lines)."""
    roles = []
    has_vrrp = bool(model.vrrp_instances or model.static_ipaddress or model.static_routes
                    or model.static_rules or any(d.stops_vrrp for d in diags))
    if not opts.check_only and (has_vrrp or opts.all_children):
        roles.append("vrrp")
    if not opts.vrrp_only and (model.virtual_servers or opts.all_children):
        roles.append("checker")
    has_bfd = any(nb.kind == "bfd_instance" for nb in model.named_blocks)
    if not opts.no_bfd and (has_bfd or opts.all_children):
        roles.append("bfd")
    return roles
