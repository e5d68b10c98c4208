"""pykeepalived: a keepalived.conf-compatible VRRP and health-checking daemon."""

__version__ = "0.1.0"
# The keepalived release whose behaviour, configuration and messages we follow.
KEEPALIVED_COMPAT = "2.2.7"
# keepalived's start and stop banners name its version and build date; ours keep that text, so log
# alerts on `Starting Keepalived v` / `Stopped Keepalived` match, and add our own name and version.
BANNER = f"Keepalived v{KEEPALIVED_COMPAT} (01/16,2022), pykeepalived v{__version__}"
