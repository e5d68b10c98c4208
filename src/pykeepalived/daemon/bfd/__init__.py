"""The BFD child (keepalived's Keepalived_bfd): bfd_child.py runs the bfd_instance sessions of the BFD
core on linux/ sockets and writes their events to the VRRP and checker children's pipes."""
