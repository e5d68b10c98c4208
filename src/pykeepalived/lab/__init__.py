"""The lab: everything that runs pykeepalived and keepalived in network namespaces, for the demo
(`make demo`), the tests and the bench alike (issue 14: one lab, no `tests.*` imports from the bench).

- netns.py: `Lab`, its hosts and LANs (namespaces, veth, bridges), `lb_lab`, the clean-up of stale ones
  (re-exported here: `from pykeepalived.lab import Lab`);
- node.py: `Node`, one pykeepalived or keepalived daemon in a lab host, and looking at it from outside;
- peers.py: configuration builders and checks for pykeepalived against keepalived / FRR;
- capture.py: tcpdump captures in a lab host and the VRRP adverts in them;
- webfarm.py: the "web servers behind a VIP" pieces of the demo and the end-to-end tests (nginx);
- frr.py: FRR in a lab host and the routed fabric of the demo's second act and the BGP tests;
- servers.py: real servers for the checker (nginx, DNS, UDP); bfd_proc.py: a BFD child or keepalived
  with its event pipes; control_flood.py: hostile clients of the control socket and metrics;
  dbus_bus.py: a private system bus for the DBus service; snmpd.py: a private snmpd/snmptrapd;
  bgp_fabric.py: nginx on the routed fabric of the BGP tests and bench.

A helper only one test folder uses stays beside its tests (tests/interop/frr.py...).

Nothing of the daemon imports the lab (an import-linter contract in pyproject.toml).
"""

from pykeepalived.lab.netns import (
    IP,
    Host,
    Lab,
    LabError,
    LbLab,
    cleanup_stale,
    lb_lab,
    list_netns,
    setns,
    start_in_netns,
)

__all__ = ["IP", "Host", "Lab", "LabError", "LbLab", "cleanup_stale", "lb_lab", "list_netns", "setns",
           "start_in_netns"]
