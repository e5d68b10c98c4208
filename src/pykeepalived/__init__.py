"""pykeepalived: a keepalived.conf-compatible VRRP and health-checking daemon."""

__version__ = "0.1.0"
# The keepalived release whose behaviour, configuration and messages we follow.
KEEPALIVED_COMPAT = "2.2.7"
