"""keepalived.conf: preprocessing, grammar, model, `-t` (see load.py for the entry point)."""

from pykeepalived.config.diag import ConfigErr, Diagnostic
from pykeepalived.config.load import load_config

__all__ = ["ConfigErr", "Diagnostic", "load_config"]
