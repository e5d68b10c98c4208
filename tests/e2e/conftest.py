"""Fixtures for the end-to-end tests: a lab with two web nodes and a client, nginx, daemons, a curl poller."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.webfarm import Daemon, Nginx, kill_netns_processes, lab_namespaces, nginx_ha_config

VIP = "192.0.2.100"


class CurlPoller:
    """The client: `curl http://VIP/` in a loop inside the client's namespace, one result per line."""

    def __init__(self, client: Host, out: Path, period: float = 0.1) -> None:
        self.out = out
        loop = (
            f"while :; do r=$(curl -s -f -m 0.5 http://{VIP}/ || echo ERR); "
            f'echo "$(date +%s.%N) $r"; sleep {period}; done'
        )
        with open(out, "wb") as f:
            self.proc = client.popen(["sh", "-c", loop], stdout=f, stderr=subprocess.DEVNULL,
                                     start_new_session=True)

    def results(self) -> list[tuple[float, str]]:
        """(wall time, "n1" | "n2" | "ERR") for every finished request."""
        rows = []
        for line in self.out.read_text().splitlines():
            t, _, r = line.partition(" ")
            with contextlib.suppress(ValueError):
                rows.append((float(t), r.removeprefix("served by ").strip()))
        return rows

    def served_by(self, name: str, since: float) -> bool:
        return any(r == name for t, r in self.results() if t >= since)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class Farm:
    """Two web nodes (n1, n2) each with nginx and a keepalived, and a client."""

    lab: Lab
    tmp: Path
    nginx: dict[str, Nginx] = field(default_factory=dict)
    daemons: dict[str, Daemon] = field(default_factory=dict)
    poller: CurlPoller | None = None
    uid: str = field(default_factory=lambda: secrets.token_hex(3))

    def notify_script(self, name: str) -> tuple[Path, Path]:
        """A generic notify script recording its arguments, one line per call; returns (script, record)."""
        rec = self.tmp / f"notify-{name}.log"
        script = self.tmp / f"notify-{name}.sh"
        script.write_text(f'#!/bin/sh\necho "$@" >> {rec}\n')
        script.chmod(0o755)
        return script, rec

    def start_nginx(self, name: str) -> Nginx:
        # a name unique to this test: tests run in parallel and all namespaces share one PID namespace
        ng = self.nginx.get(name) or Nginx(self.lab[name], self.tmp / f"nginx-{name}",
                                           name=f"ngx{self.uid}-{name}")
        self.nginx[name] = ng
        return ng if ng.running() else ng.start()

    def start_daemon(self, name: str, config: str, impl: str = "py") -> Daemon:
        d = Daemon(self.lab[name], config, impl=impl, workdir=self.tmp / f"ka-{name}")
        self.daemons[name] = d
        return d.start()

    def start_poller(self) -> CurlPoller:
        self.poller = CurlPoller(self.lab["client"], self.tmp / "curl.log")
        return self.poller

    def has_vip(self, name: str) -> bool:
        return f" {VIP}/" in self.lab[name].ip("-4", "-o", "addr", "show", "dev", "eth0")

    def holder(self) -> str | None:
        held = [n for n in ("n1", "n2") if self.has_vip(n)]
        return held[0] if len(held) == 1 else None

    def close(self) -> None:
        if self.poller is not None:
            self.poller.stop()
        for d in self.daemons.values():
            with contextlib.suppress(Exception):
                d.kill()
        for ng in self.nginx.values():
            with contextlib.suppress(Exception):
                ng.kill()
        kill_netns_processes(lab_namespaces(self.lab))

    def debug(self) -> str:
        out = []
        for name, d in self.daemons.items():
            out.append(f"--- {name} ({d.impl})\n" + "\n".join(d.logs().splitlines()[-40:]))
        return "\n".join(out)


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[Farm]:
    with Lab(hosts=["n1", "n2", "client"]) as lab:
        f = Farm(lab, tmp_path)
        try:
            yield f
        finally:
            f.close()


def wait_for(cond: Callable[[], bool], timeout: float, what: str, farm: Farm | None = None,
             step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            detail = farm.debug() if farm is not None else ""
            raise AssertionError(f"{what}: not within {timeout} s\n{detail}")
        time.sleep(step)


__all__ = ["VIP", "CurlPoller", "Farm", "nginx_ha_config", "wait_for"]
