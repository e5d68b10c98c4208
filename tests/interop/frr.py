"""FRR daemons in a lab host: vrrpd (with zebra) as a VRRP peer, or bgpd/bfdd (with zebra) as a BGP
speaker (tests/bgp/: the upstream router and each node's own FRR).

FRR 8.4 from Debian: zebra and vrrpd run as user frr (the packaged binaries require the vty group
frrvty, which root is not in), with their own pid files (-i), zserv socket (-z), vty socket directory
(--vty_socket) and config files (-f) in a temp dir, TCP vty disabled (-P 0). vrrpd drives the
macvlan interfaces the operator creates (FRR docs, vrrp.rst): bridge mode, MAC 00:00:5e:00:01:VRID
(IPv4) / 00:00:5e:00:02:VRID (IPv6), addrgenmode random, carrying the virtual addresses; it keeps them
protodown while BACKUP. State is read with `vtysh --vty_socket DIR -c "show vrrp VRID json"`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from pykeepalived.lab import Host

FRR_DIR = Path("/usr/lib/frr")


def frr_available(daemons: tuple[str, ...] = ("zebra", "vrrpd")) -> str | None:
    """None if FRR can run here, else the reason."""
    for exe in daemons:
        if not (FRR_DIR / exe).exists():
            return f"{FRR_DIR / exe} not installed"
    if shutil.which("vtysh") is None:
        return "vtysh not installed"
    try:
        shutil.chown  # noqa: B018
        import pwd

        pwd.getpwnam("frr")
    except KeyError:
        return "no 'frr' user (the packaged daemons drop privileges to it)"
    return None


class FrrNode:
    def __init__(self, host: Host, vrrpd_conf: str | None = None, *,
                 confs: dict[str, str] | None = None) -> None:
        """`confs`: daemon name -> its configuration, started in that order after zebra (default:
        vrrpd with `vrrpd_conf`)."""
        self.host = host
        self.dir = Path(tempfile.mkdtemp(prefix=f"pyka-frr-{host.name}-"))
        self.confs = confs if confs is not None else {"vrrpd": vrrpd_conf or ""}
        zebra = self.confs.pop("zebra", "")
        (self.dir / "zebra.conf").write_text(f"hostname {host.name}-zebra\n{zebra}")
        for name, conf in self.confs.items():
            (self.dir / f"{name}.conf").write_text(f"hostname {host.name}-{name}\n{conf}")
        for p in [self.dir, *self.dir.iterdir()]:
            shutil.chown(p, "frr", "frr")
        self.procs: list[subprocess.Popen[bytes]] = []

    def macvlan(self, vrid: int, family: int, addrs: tuple[str, ...], parent: str = "eth0") -> str:
        """Create the macvlan vrrpd expects for (vrid, family) with the virtual addresses on it."""
        name = f"vrrp{family}-{vrid}"
        mac = f"00:00:5e:00:0{1 if family == 4 else 2}:{vrid:02x}"
        cmds = [
            f"ip link add {name} link {parent} type macvlan mode bridge",
            f"ip link set {name} addrgenmode random",
            f"ip link set {name} address {mac}",
            *(f"ip addr add {a} dev {name}" + (" nodad" if family == 6 else "") for a in addrs),
            f"ip link set {name} up",
        ]
        self.host.run(" && ".join(cmds))
        return name

    def _daemon(self, name: str) -> subprocess.Popen[bytes]:
        d = self.dir
        argv = [
            str(FRR_DIR / name), "-u", "frr", "-g", "frr", "-P", "0", "-i", f"{d}/{name}.pid",
            "-f", f"{d}/{name}.conf", "-z", f"{d}/zserv.api", "--vty_socket", str(d),
            "--log", f"file:{d}/{name}.log",
        ]
        out = open(d / f"{name}.out", "ab")  # noqa: SIM115 - owned by the process
        proc = self.host.popen(argv, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.procs.append(proc)
        return proc

    def start(self) -> FrrNode:
        self._daemon("zebra")
        deadline = time.monotonic() + 10
        while not (self.dir / "zserv.api").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"zebra did not start: {self.logs()}")
            time.sleep(0.05)
        for name in self.confs:
            self._daemon(name)
            deadline = time.monotonic() + 10
            while not (self.dir / f"{name}.vty").exists():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start: {self.logs()}")
                time.sleep(0.05)
        return self

    def vtysh(self, *cmds: str) -> str:
        argv = ["vtysh", "--vty_socket", str(self.dir)]
        for c in cmds:
            argv += ["-c", c]
        return self.host.run(argv)

    def show(self, vrid: int) -> dict[str, object]:
        data = json.loads(self.vtysh(f"show vrrp {vrid} json"))
        return data[0] if isinstance(data, list) else data

    def status(self, vrid: int, family: int = 4) -> str:
        """'Master', 'Backup', 'Initialize' for the v4 or v6 virtual router."""
        v = self.show(vrid).get(f"v{family}", {})
        return str(v.get("status", "")) if isinstance(v, dict) else ""

    def stats(self, vrid: int, family: int = 4) -> dict[str, object]:
        v = self.show(vrid).get(f"v{family}", {})
        return v if isinstance(v, dict) else {}

    def logs(self) -> str:
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.dir.glob("*.log"))
        ) + "\n".join(p.read_text(errors="replace") for p in self.dir.glob("*.out"))

    def stop(self, *, hard: bool = False) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill() if hard else p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()

    def cleanup(self) -> None:
        self.stop(hard=True)
        if not os.environ.get("PYKA_KEEP_LOGS"):
            shutil.rmtree(self.dir, ignore_errors=True)
