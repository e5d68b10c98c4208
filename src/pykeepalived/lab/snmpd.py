"""Debian's snmpd (AgentX master) and snmptrapd run privately inside a lab host: own config, socket,
persistent directory and log, never the host's snmpd. Walk results come back as `-On` lines."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from pykeepalived.lab.netns import Host

SNMP_PORT = 1161
TRAP_PORT = 1162


# snmpTrapOID values snmpd sends itself: coldStart, warmStart, nsNotifyShutdown, nsNotifyRestart
SNMPD_OWN_TRAPS = (".1.3.6.1.6.3.1.1.5.1", ".1.3.6.1.6.3.1.1.5.2", ".1.3.6.1.4.1.8072.4.0.2",
                   ".1.3.6.1.4.1.8072.4.0.3")


class PrivateSnmpd:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.dir = Path(tempfile.mkdtemp(prefix=f"pyka-snmp-{host.name}-"))
        self.socket = self.dir / "agentx"
        self.trap_log = self.dir / "traps.log"
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, SNMP_PERSISTENT_DIR=str(self.dir / "persist"), MIBS="",
                    MIBDIRS="/nonexistent", SNMPCONFPATH=str(self.dir))

    def start(self) -> PrivateSnmpd:
        (self.dir / "snmpd.conf").write_text(
            f"master agentx\nagentXSocket unix:{self.socket}\nagentaddress udp:127.0.0.1:{SNMP_PORT}\n"
            f"rocommunity public 127.0.0.1\nrwcommunity private 127.0.0.1\n"
            f"trap2sink 127.0.0.1:{TRAP_PORT} public\n")
        (self.dir / "snmptrapd.conf").write_text("disableAuthorization yes\n")
        self.host.run(["ip", "link", "set", "lo", "up"])
        self.procs.append(self.host.popen(
            ["snmptrapd", "-f", "-C", "-c", str(self.dir / "snmptrapd.conf"), "-On",
             "-Lf", str(self.trap_log),
             "-p", str(self.dir / "snmptrapd.pid"), f"udp:127.0.0.1:{TRAP_PORT}"], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.start_snmpd()
        return self

    def start_snmpd(self) -> None:
        self.snmpd = self.host.popen(
            ["snmpd", "-f", "-C", "-c", str(self.dir / "snmpd.conf"), "-Lf", str(self.dir / "snmpd.log"),
             "-p", str(self.dir / "snmpd.pid")], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(self.snmpd)
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            assert time.monotonic() < deadline, "snmpd did not open its AgentX socket"
            time.sleep(0.05)

    def stop_snmpd(self) -> None:
        self.snmpd.terminate()
        self.snmpd.wait(10)

    def walk(self, oid: str, bulk: bool = False) -> list[str]:
        tool = "snmpbulkwalk" if bulk else "snmpwalk"
        out = self.host.run(["env", "MIBS=", tool, "-v2c", "-c", "public", "-On", "-t", "5", "-r", "1",
                             f"127.0.0.1:{SNMP_PORT}", oid])
        return [line for line in out.splitlines() if line.strip() and "No Such Object" not in line]

    def set(self, oid: str, vtype: str, value: str) -> str:
        """`snmpset -On` of one object with the write community: its output and exit status."""
        out = self.host.run(f"env MIBS= snmpset -v2c -c private -On -t 5 -r 0 127.0.0.1:{SNMP_PORT} "
                            f"{oid} {vtype} '{value}' 2>&1; echo exit $?")
        return out.strip()

    def traps(self) -> list[str]:
        """One line per trap received from the subagent: its varbinds, sysUpTime masked. snmpd's own
        notifications (coldStart, net-snmp's shutdown/restart) are left out: whether snmptrapd is
        already listening when snmpd sends its coldStart is a race of the test's start-up."""
        if not self.trap_log.exists():
            return []
        text = self.trap_log.read_text()
        out = []
        for line in text.splitlines():
            if any(f"OID: {oid}\t" in line + "\t" for oid in SNMPD_OWN_TRAPS):
                continue
            if line.startswith(".1.3.6.1.2.1.1.3.0"):
                out.append(re.sub(r"Timeticks: \(\d+\) [0-9:.]+", "Timeticks: <uptime>", line))
        return out

    def close(self) -> None:
        for p in self.procs:
            with contextlib.suppress(Exception):
                p.terminate()
                p.wait(5)
        if not os.environ.get("PYKA_KEEP_LOGS"):
            shutil.rmtree(self.dir, ignore_errors=True)
