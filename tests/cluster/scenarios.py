"""The demo's scenarios as cluster files: HA nginx with a weighted check, dual master, nopreempt,
unicast, each for two or three nodes; node k has address 192.0.2.k (the lab's first LAN hands them
out in that order). Used by the check tests, the what-if tests and the validation against daemons."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pykeepalived.cluster.model import Cluster, ClusterNode
from pykeepalived.config.load import load_config


@dataclass
class Inst:
    """One vrrp_instance of one node; every keyword can be changed to make a mistake."""

    name: str = "VI_1"
    vrid: int = 51
    priority: int = 100
    state: str = "BACKUP"
    interface: str = "eth0"
    advert_int: str = "1"
    vips: tuple[str, ...] = ("192.0.2.100/24",)
    evips: tuple[str, ...] = ()
    auth: tuple[str, str] | None = ("PASS", "secret42")
    nopreempt: bool = False
    unicast_src: str | None = None
    unicast_peers: tuple[str, ...] = ()
    track_script: str | None = None
    track_weight: int | None = None
    notify: tuple[str, ...] = ()
    extra: str = ""

    def text(self) -> str:
        out = [f"vrrp_instance {self.name} {{", f"    state {self.state}", f"    interface {self.interface}",
               f"    virtual_router_id {self.vrid}", f"    priority {self.priority}",
               f"    advert_int {self.advert_int}"]
        if self.nopreempt:
            out.append("    nopreempt")
        if self.auth:
            out += ["    authentication {", f"        auth_type {self.auth[0]}",
                    f"        auth_pass {self.auth[1]}", "    }"]
        out += ["    virtual_ipaddress {", *(f"        {v}" for v in self.vips), "    }"]
        if self.evips:
            out += ["    virtual_ipaddress_excluded {", *(f"        {v}" for v in self.evips), "    }"]
        if self.unicast_src:
            out.append(f"    unicast_src_ip {self.unicast_src}")
        if self.unicast_peers:
            out += ["    unicast_peer {", *(f"        {p}" for p in self.unicast_peers), "    }"]
        if self.track_script:
            w = f" weight {self.track_weight}" if self.track_weight is not None else ""
            out += ["    track_script {", f"        {self.track_script}{w}", "    }"]
        out += [f"    {n}" for n in self.notify]
        if self.extra:
            out.append(self.extra)
        out.append("}")
        return "\n".join(out)


@dataclass
class NodeConf:
    name: str
    instances: list[Inst]
    globals_: str = ""
    scripts: dict[str, str] = field(default_factory=dict)  # name -> body lines
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def text(self) -> str:
        out = ["global_defs {", f"    router_id {self.name}", self.globals_, "}"]
        for name, body in self.scripts.items():
            out += [f"vrrp_script {name} {{", body, "}"]
        out += [i.text() for i in self.instances]
        for g, members in self.groups.items():
            out += [f"vrrp_sync_group {g} {{", "    group {", *(f"        {m}" for m in members),
                    "    }", "}"]
        return "\n".join(out) + "\n"


CHECK = "    script \"/bin/true\"\n    interval 1\n    weight -5"


def ha_nginx(n: int = 2) -> list[NodeConf]:
    """The demo: node1 101 > node2 100 (> node3 99), chk_nginx weight -5, PASS auth, a notify script."""
    return [NodeConf(f"node{k}", [Inst(priority=102 - k, track_script="chk_nginx",
                                       notify=('notify "/usr/local/bin/notify.sh"',))],
                     scripts={"chk_nginx": CHECK}) for k in range(1, n + 1)]


def dual_master() -> list[NodeConf]:
    """Two VIPs, each node the preferred master of one."""
    return [NodeConf(f"node{k}", [
        Inst("VI_1", 51, 101 if k == 1 else 100, vips=("192.0.2.100/24",)),
        Inst("VI_2", 52, 101 if k == 2 else 100, vips=("192.0.2.101/24",)),
    ]) for k in (1, 2)]


def nopreempt(n: int = 2) -> list[NodeConf]:
    return [NodeConf(f"node{k}", [Inst(priority=102 - k, nopreempt=True)]) for k in range(1, n + 1)]


def unicast(n: int = 2) -> list[NodeConf]:
    addrs = [f"192.0.2.{k}" for k in range(1, n + 1)]
    return [NodeConf(f"node{k}", [Inst(priority=102 - k, unicast_src=addrs[k - 1],
                                       unicast_peers=tuple(a for a in addrs if a != addrs[k - 1]))])
            for k in range(1, n + 1)]


def write(tmp: Path, confs: list[NodeConf]) -> list[str]:
    """The files, one per node, as `NAME=FILE` node arguments."""
    out = []
    for c in confs:
        p = tmp / f"{c.name}.conf"
        p.write_text(c.text())
        out.append(f"{c.name}={p}")
    return out


def cluster(tmp: Path, confs: list[NodeConf], allow: str = "^$") -> Cluster:
    """The nodes' models; a file diagnostic not matching `allow` fails the test."""
    nodes = []
    for arg in write(tmp, confs):
        name, path = arg.split("=", 1)
        model, diags = load_config(path, name)
        assert not [d for d in diags if not d.log_only and not re.search(allow, d.message)], diags
        nodes.append(ClusterNode(name, model))
    return Cluster(tuple(nodes))
