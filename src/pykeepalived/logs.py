"""The daemon's one logger and keepalived's detail level (-D, log_detail), for every package: the
handlers, idents and formats are set up by daemon/log.py in each process."""

from __future__ import annotations

import logging

DETAIL = 15
logging.addLevelName(DETAIL, "DETAIL")

log = logging.getLogger("pykeepalived")
