# Theory of operation
# -------------------
# `disable_local_igmp` (global_defs; keepalived.md §1.2; keepalived 2.2.7 vrrp_daemon.c
# set_disable_local_igmp / reset_disable_local_igmp). The kernel (>= 4.3) sends IGMP reports for
# link-local groups such as 224.0.0.18 unless net.ipv4.igmp_link_local_mcast_reports is 0; switches
# doing IGMP snooping do not need them for VRRP. At the VRRP process's start (not at a reload) the
# sysctl of its network namespace is read; if it is 1 it is set to 0, and set back to 1 at stop.
# Any failure logs keepalived's line and leaves the setting alone. The parent refuses a reload that
# changes the keyword (`Cannot change disable_local_igmp at a reload - please restart keepalived`).
"""net.ipv4.igmp_link_local_mcast_reports for disable_local_igmp."""

from __future__ import annotations

import logging
import os

log = logging.getLogger("pykeepalived")

IGMP_LINK_LOCAL_MCAST_REPORTS = "/proc/sys/net/ipv4/igmp_link_local_mcast_reports"


class LocalIgmp:
    """Turns link-local IGMP reports off for the process's lifetime."""

    def __init__(self, path: str = IGMP_LINK_LOCAL_MCAST_REPORTS) -> None:
        self.path = path
        self.saved: bytes | None = None  # the value read at start

    def disable(self) -> bool:
        """Read the sysctl and set it to 0 if it was 1; False when it could not be read or written."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except OSError as e:
            log.info("Unable to open %s - errno %d", self.path, e.errno or 0)
            return False
        try:
            try:
                self.saved = os.read(fd, 1)
            except OSError as e:
                log.info("Unable to read %s - errno %d", self.path, e.errno or 0)
                return False
            if self.saved == b"1":
                try:
                    os.lseek(fd, 0, os.SEEK_SET)
                    os.write(fd, b"0")
                except OSError as e:
                    log.info("Unable to write %s - errno %d", self.path, e.errno or 0)
                    self.saved = None
                    return False
            return True
        finally:
            os.close(fd)

    def restore(self) -> None:
        """At stop: back to 1 if it was 1 at start."""
        if self.saved != b"1":
            return
        self.saved = None
        try:
            fd = os.open(self.path, os.O_RDWR)
        except OSError as e:
            log.info("Unable to write %s - errno %d", self.path, e.errno or 0)
            return
        try:
            os.write(fd, b"1")
        except OSError as e:
            log.info("Unable to write %s - errno %d", self.path, e.errno or 0)
        finally:
            os.close(fd)
