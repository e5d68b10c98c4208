"""The VRRP child's share of linux/rcvbuf.py: what each instance adds to its receive socket's buffer
(kernel_rx_buf_size, vrrp_rx_bufs_policy/multiplier), from its configuration and interface."""

from __future__ import annotations

from typing import Any

from pykeepalived.linux.rcvbuf import advert_len, instance_rx_buf


def vrrp_rx_buf(model: Any, rt: Any) -> int:
    """Bytes the instance of runtime entry rt adds to its socket's SO_RCVBUF (0: none)."""
    p = rt.params
    kernel = rt.setup.kernel_rx_buf_size
    ah = str(getattr(p.auth_type, "name", "")) == "AH"
    mtu = rt.iface.mtu if rt.iface is not None else None
    adv = advert_len(p.family, p.version, len(p.vips), ah)
    return instance_rx_buf(model.global_defs.rcv_bufs.rx_bufs_policy, kernel, adv, mtu)
