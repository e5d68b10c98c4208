"""FRR's vrrpd (with zebra) as a VRRP peer inside a lab host: pykeepalived/lab/frr.py."""

from pykeepalived.lab.frr import FRR_DIR, FrrNode, frr_available

__all__ = ["FRR_DIR", "FrrNode", "frr_available"]
