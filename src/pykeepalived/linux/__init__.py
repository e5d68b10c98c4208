# Theory of operation
# -------------------
# The only code that touches the kernel. Everything is asyncio-friendly: raw sockets are
# non-blocking and driven by loop.add_reader, netlink goes through pyroute2's AsyncIPRoute, and the
# few /proc/sys accesses are microsecond file writes. All of it works in the network namespace of
# the calling thread (the daemon's; in tests a thread that joined a lab namespace), so never hand
# these calls to a thread pool: a pool thread may live in another namespace.
#
#   iface        interface facts (ifindex, MAC, flags, primary IPv4, link-local IPv6, forwarding)
#   vrrp_socket  raw VRRP sockets per (interface, family, group | unicast source); pool by VRID
#   addresses    VIPs/eVIPs/static addresses, routes, rules over netlink (idempotent), restore
#   garp         AF_PACKET senders for gratuitous ARP / unsolicited NA frames
#   vmac         use_vmac macvlans, keepalived names, MACs and sysctls (restored on close)
#   monitor      link / address / keepalived-route events from rtnetlink
"""Linux network I/O for pykeepalived."""
