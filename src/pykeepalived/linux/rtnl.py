"""pyroute2's rtnetlink client. Import it from here (not `from pyroute2 import AsyncIPRoute`): the
package pykeepalived.linux made `pyroute2` lazy (see its __init__), and the top-level name would load
all of pyroute2."""

from pyroute2.iproute.linux import AsyncIPRoute

__all__ = ["AsyncIPRoute"]
