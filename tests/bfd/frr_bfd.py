"""FRR's bfdd (with zebra) as a BFD peer in a lab host, built on tests/interop/frr.py's FrrNode."""

from __future__ import annotations

import json
import shutil
import time

from pykeepalived.lab import Host
from tests.interop.frr import FRR_DIR, FrrNode, frr_available


def bfdd_available() -> str | None:
    if not (FRR_DIR / "bfdd").exists():
        return f"{FRR_DIR / 'bfdd'} not installed"
    return frr_available()


class BfddNode(FrrNode):
    def __init__(self, host: Host, bfdd_conf: str) -> None:
        super().__init__(host, "")
        (self.dir / "bfdd.conf").write_text(f"hostname {host.name}-bfdd\n{bfdd_conf}")
        shutil.chown(self.dir / "bfdd.conf", "frr", "frr")

    def start(self) -> BfddNode:
        self._daemon("zebra")
        self._wait("zserv.api", "zebra")
        self._daemon("bfdd")
        self._wait("bfdd.vty", "bfdd")
        return self

    def _wait(self, name: str, what: str) -> None:
        deadline = time.monotonic() + 10
        while not (self.dir / name).exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start: {self.logs()}")
            time.sleep(0.05)

    def peers(self) -> list[dict[str, object]]:
        data = json.loads(self.vtysh("show bfd peers json") or "[]")
        return data if isinstance(data, list) else [data]

    def peer_status(self, peer: str) -> str:
        for p in self.peers():
            if p.get("peer") == peer:
                return str(p.get("status", ""))
        return ""

    def peer(self, peer: str) -> dict[str, object]:
        for p in self.peers():
            if p.get("peer") == peer:
                return p
        return {}
