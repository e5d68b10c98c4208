"""The reload matrix (issue 12): one kind of configuration change per case, reloaded (SIGHUP) on a
node that is MASTER (and BACKUP where it matters), side by side with keepalived 2.2.7.

Each side has its own lab: the reloaded node X (keepalived "ka", or pykeepalived "py") and a peer P
(keepalived 2.2.7 on both sides, so the peer is the same referee) on one LAN (two for the interface
change). Both get the new configuration and a SIGHUP, as a configuration deploy does: wire-visible
changes such as the VIPs, the advert interval or the password go to both nodes; X reloads first, the
peer once X logged `Reload complete`. Once a master down interval and a flap have had time, we
compare what X logged since the reload (state changes, priority-0 adverts, address work: the key
lines), that the parent logged `Reload complete` once, which notifies X ran, X's and P's addresses,
and what the peer logged (taking over, priority-0 adverts received). Where keepalived itself flaps,
pykeepalived must flap alike. The two sides run in parallel threads."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import re
import signal
import time
from dataclasses import dataclass, field

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, discard, dump_logs, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

SETTLE = 6.0  # after the reload: more than the peer's and X's master down interval (3.6-3.8 s) and a flap


@dataclass(frozen=True)
class Inst:
    """One vrrp_instance of the matrix's configurations."""

    name: str = "VI_1"
    vrid: int = 51
    prio: int = 150
    state: str = "MASTER"
    iface: str = "eth0"
    advert: int = 1
    vips: tuple[str, ...] = ("192.0.2.100/24",)
    evips: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    track: bool = False  # track_script chk
    auth: str | None = None
    peers: tuple[str, ...] | None = None  # unicast_peer (None: multicast)
    nopreempt: bool = False
    rules: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()  # more keyword lines


@dataclass(frozen=True)
class Conf:
    insts: tuple[Inst, ...]
    weight: int | None = None  # vrrp_script chk's weight (None: no vrrp_script; 0: unweighted)
    script: str = "/bin/true"
    group: tuple[str, ...] = ()  # vrrp_sync_group G1 members


def render(conf: Conf, host: str, notify: str | None) -> str:
    out = [f"global_defs {{\n    router_id {host}\n    script_user root\n}}\n"]
    if conf.weight is not None:
        out.append(f'vrrp_script chk {{\n    script "{conf.script}"\n    interval 1\n'
                   f'    weight {conf.weight}\n}}\n')
    if conf.group:
        members = "\n".join(f"        {m}" for m in conf.group)
        out.append(f"vrrp_sync_group G1 {{\n    group {{\n{members}\n    }}\n}}\n")
    for i in conf.insts:
        lines = [f"vrrp_instance {i.name} {{", f"    state {i.state}", f"    interface {i.iface}",
                 f"    virtual_router_id {i.vrid}", f"    priority {i.prio}", f"    advert_int {i.advert}"]
        if i.nopreempt:
            lines.append("    nopreempt")
        if notify:
            lines.append(f"    notify {notify}")
        if i.auth:
            lines += ["    authentication {", "        auth_type PASS", f"        auth_pass {i.auth}",
                      "    }"]
        if i.peers is not None:
            lines += ["    unicast_peer {", *(f"        {p}" for p in i.peers), "    }"]
        if i.track:
            lines += ["    track_script {", "        chk", "    }"]
        lines += ["    virtual_ipaddress {", *(f"        {v}" for v in i.vips), "    }"]
        if i.evips:
            lines += ["    virtual_ipaddress_excluded {", *(f"        {v}" for v in i.evips), "    }"]
        if i.routes:
            lines += ["    virtual_routes {", *(f"        {r}" for r in i.routes), "    }"]
        if i.rules:
            lines += ["    virtual_rules {", *(f"        {r}" for r in i.rules), "    }"]
        lines += [f"    {line}" for line in i.extra]
        out.append("\n".join([*lines, "}"]) + "\n")
    return "".join(out)


@dataclass(frozen=True)
class Case:
    """X's configuration before and after, the peer's before and after (None: unchanged)."""

    x_old: Conf
    x_new: Conf
    p_old: Conf
    p_new: Conf | None = None
    masters: tuple[str, ...] = ("192.0.2.100",)  # X holds these before the reload
    roles: tuple[str, ...] = ("master",)
    extra_lans: bool = False


X = Inst()  # MASTER role; the BACKUP role lowers X's priority below the peer's (see as_backup)
P = Inst(prio=100, state="BACKUP")
X2 = Inst(name="VI_2", vrid=52, vips=("192.0.2.102/24",))
P2 = dataclasses.replace(P, name="VI_2", vrid=52, vips=("192.0.2.102/24",))
VIPS2 = ("192.0.2.100/24", "192.0.2.101/24")
ROUTE = "198.51.100.0/24 via 192.0.2.254 dev eth0"
RULE = "from 192.0.2.100/32 table 100"
G = ("VI_1", "VI_2")
X6 = Inst(vips=("2001:db8::100/64",), extra=("version 3",))
P6 = dataclasses.replace(X6, prio=100, state="BACKUP")


def one(x: Inst, **kw: object) -> Conf:
    return Conf((x,), **kw)  # type: ignore[arg-type]


def both(x: Conf, p: Conf, new: dict[str, object], **case: object) -> Case:
    """A change made on both nodes' instances (a wire-visible one)."""
    def change(c: Conf) -> Conf:
        return dataclasses.replace(c, insts=tuple(dataclasses.replace(i, **new) for i in c.insts))  # type: ignore[arg-type]

    return Case(x, change(x), p, change(p), **case)  # type: ignore[arg-type]


def x_only(x_old: Inst | Conf, x_new: Inst | Conf, **case: object) -> Case:
    xo = x_old if isinstance(x_old, Conf) else one(x_old)
    xn = x_new if isinstance(x_new, Conf) else one(x_new)
    return Case(xo, xn, one(P), **case)  # type: ignore[arg-type]


def r(**kw: object) -> Inst:
    return dataclasses.replace(X, **kw)  # type: ignore[arg-type]


U_X, U_P = "192.0.2.1", "192.0.2.2"  # X is the first host on its LAN, the peer the second
CASES: dict[str, Case] = {
    "priority_up": x_only(X, r(prio=170), roles=("master", "backup")),
    "priority_down": x_only(X, r(prio=80), roles=("master", "backup")),
    "advert_int": both(one(X), one(P), {"advert": 2}),
    "vip_add": both(one(X), one(P), {"vips": VIPS2}, roles=("master", "backup")),
    "vip_remove": both(one(r(vips=VIPS2)), one(dataclasses.replace(P, vips=VIPS2)), {"vips": X.vips},
                       masters=("192.0.2.100", "192.0.2.101"), roles=("master", "backup")),
    "evip_add": x_only(X, r(evips=("192.0.2.150/24",))),
    "evip_remove": x_only(r(evips=("192.0.2.150/24",)), X, masters=("192.0.2.100", "192.0.2.150")),
    "vroute_add": x_only(X, r(routes=(ROUTE,))),
    "vroute_remove": x_only(r(routes=(ROUTE,)), X, roles=("master", "backup")),
    "track_script_add": x_only(one(X, weight=10), one(r(track=True), weight=10)),
    "track_script_remove": x_only(one(r(track=True), weight=10), one(X, weight=10)),
    "track_script_add_failing": x_only(one(X, weight=0, script="/bin/false"),
                                       one(r(track=True), weight=0, script="/bin/false")),
    "fault_kept": x_only(one(r(track=True), weight=0, script="/bin/false"),
                         one(r(track=True, prio=170), weight=0, script="/bin/false"), roles=("backup",)),
    "fault_cleared": x_only(one(r(track=True), weight=0, script="/bin/false"),
                            one(X, weight=0, script="/bin/false"), roles=("backup",)),
    "weight_and_vip_change": x_only(one(r(track=True, evips=("192.0.2.150/24",)), weight=10),
                                    one(r(track=True), weight=30)),  # tracking lines before the diff's
    "weight_change": x_only(one(r(track=True), weight=10), one(r(track=True), weight=30)),
    "auth_change": both(one(r(auth="secret1")), one(dataclasses.replace(P, auth="secret1")),
                        {"auth": "secret2"}),
    "unicast_peer_add": Case(one(r(peers=(U_P,))), one(r(peers=(U_P, "192.0.2.9"))),
                             one(dataclasses.replace(P, peers=(U_X,)))),
    "nopreempt_toggle": x_only(r(state="BACKUP", prio=120, nopreempt=True), r(state="BACKUP", prio=120),
                               roles=("backup",)),
    "sync_group_add": Case(Conf((X, X2)), Conf((X, X2), group=G), Conf((P, P2)),
                           masters=("192.0.2.100", "192.0.2.102"), roles=("master", "backup")),
    "sync_group_kept": Case(Conf((X, X2), group=G), Conf((r(prio=170), X2), group=G), Conf((P, P2)),
                            masters=("192.0.2.100", "192.0.2.102"), roles=("master", "backup")),
    "sync_group_remove": Case(Conf((X, X2), group=G), Conf((X, X2)), Conf((P, P2)),
                              masters=("192.0.2.100", "192.0.2.102"), roles=("master", "backup")),
    "vrid_change": both(one(X), one(P), {"vrid": 52}),
    "interface_change": both(one(X), one(P), {"iface": "eth1", "vips": ("198.51.100.100/24",)},
                             extra_lans=True),
    "renamed": x_only(X, r(name="VI_9")),
    "removed": Case(Conf((X, X2)), one(X), Conf((P, P2)), masters=("192.0.2.100", "192.0.2.102"),
                    roles=("master", "backup")),
    "added": Case(one(X), Conf((X, X2)), one(P), Conf((P, P2)), roles=("master", "backup")),
    "removed_notify_deleted": Case(Conf((X, dataclasses.replace(X2, extra=("notify_deleted",)))), one(X),
                                   Conf((P, P2)), masters=("192.0.2.100", "192.0.2.102")),
    "unchanged": x_only(X, X, roles=("master", "backup")),
    "vip_prefix_change": both(one(X), one(P), {"vips": ("192.0.2.100/25",)}),
    "evip6_add": x_only(X, r(evips=("2001:db8::150/64",))),
    "vrule_add": x_only(X, r(rules=(RULE,))),
    "vrule_remove": x_only(r(rules=(RULE,)), X, roles=("master", "backup")),
    "priority_owner": x_only(X, r(prio=255), roles=("master", "backup")),
    "vmac_kept": x_only(r(extra=("use_vmac",)), r(prio=170, extra=("use_vmac",))),
    "vmac_removed": Case(Conf((X, dataclasses.replace(X2, extra=("use_vmac",)))), one(X), Conf((P, P2)),
                         masters=("192.0.2.100", "192.0.2.102")),
    "ipv6_vip_add": both(one(X6), one(P6), {"vips": (*X6.vips, "2001:db8::101/64")},
                         masters=("2001:db8::100",), roles=("master", "backup")),
    "no_accept_kept": x_only(r(extra=("no_accept",)), r(prio=170, extra=("no_accept",))),
    "no_accept_renamed": x_only(r(extra=("no_accept",)), r(name="VI_9", extra=("no_accept",))),
    "no_accept_added": x_only(X, r(extra=("no_accept",))),
    "unicast_on": Case(one(X), one(r(peers=(U_P,))), one(P), one(dataclasses.replace(P, peers=(U_X,)))),
}


BACKUP_PRIO = {150: 50, 170: 120, 80: 40}  # priority_up crosses the peer's 100, priority_down stays below


def as_backup(c: Conf) -> Conf:
    """X below the peer, state BACKUP (the nopreempt case keeps its own priority)."""
    def low(i: Inst) -> Inst:
        if i.nopreempt or i.prio not in BACKUP_PRIO:
            return i
        return dataclasses.replace(i, prio=BACKUP_PRIO[i.prio], state="BACKUP")

    return dataclasses.replace(c, insts=tuple(low(i) for i in c.insts))


def as_master_peer(c: Conf) -> Conf:
    return dataclasses.replace(c, insts=tuple(dataclasses.replace(i, state="MASTER") for i in c.insts))


KEY = re.compile(
    r"Entering \w+ STATE|entering FAULT|sent 0 priority|received priority 0|(setting|removing) (E-)?VIPs"
    r"|(setting|removing) Virtual (Routes|Rules)|no longer exist|Removing (a VirtualR|route)|ip rule from"
    r"|Changing effective priority|VRRP_Script\(|VRRP_Group|Receive advertisement timeout|higher priority"
    r"|VMAC|firewall drop rule"
)
NOTIFY = """#!/bin/sh
echo "$@" >> {dir}/notify.log
"""


def key_lines(text: str) -> list[str]:
    """The key lines of a log, without time stamps, process names and pids."""
    out = []
    for line in text.splitlines():
        if KEY.search(line) and "gratuitous" not in line:
            out.append(re.sub(r"^.*?(Keepalived\w*\[\d+\]|pykeepalived\w*\[\d+\])?: ", "", line, count=1))
    return out


@dataclass
class Side:
    """What one side (ka or py) showed after the reload."""

    x_lines: list[str] = field(default_factory=list)
    p_lines: list[str] = field(default_factory=list)
    notifies: list[str] = field(default_factory=list)
    x_addrs: set[str] = field(default_factory=set)
    p_addrs: set[str] = field(default_factory=set)
    drops: int = 0  # nftables drop rules for the VIP after the reload
    reloads: int = 0  # "Reload complete" lines (the parent's: their place among the child's varies)
    logs: str = ""


def drop_rules(n: Node) -> int:
    """How many times the VIP appears in the node's nftables rules (accept mode's drop rules)."""
    return n.host.run(["nft", "list", "ruleset"]).count("192.0.2.100")


def global_addresses(n: Node) -> set[str]:
    """The node's addresses, with their interfaces, but the link-local ones (their MACs are random)."""
    data = json.loads(n.host.run(["ip", "-j", "addr", "show"]))
    return {f"{a['local']} {link['ifname']}" for link in data for a in link.get("addr_info", [])
            if not a["local"].startswith(("fe80:", "127.", "::1"))}


def run_side(impl: str, case: Case, role: str) -> Side:
    backup = role == "backup"
    x_old, x_new = (as_backup(case.x_old), as_backup(case.x_new)) if backup else (case.x_old, case.x_new)
    p_old = as_master_peer(case.p_old) if backup else case.p_old
    p_new = case.p_new if case.p_new is not None else case.p_old
    p_new = as_master_peer(p_new) if backup else p_new
    with Lab() as lab:
        lans = [lab.add_lan(ipv4="192.0.2.0/24", ipv6="2001:db8::/64")]
        if case.extra_lans:
            lans.append(lab.add_lan(ipv4="198.51.100.0/24", ipv6="2001:db8:1::/64"))
        hx, hp = lab.add_host("x", lans), lab.add_host("p", lans)
        x = Node(hx, "", impl=impl)
        p = Node(hp, render(p_old, "p", None), impl="ka")
        script = x.dir / "notify.sh"
        script.write_text(NOTIFY.format(dir=x.dir))
        script.chmod(0o755)
        x.conf.write_text(render(x_old, "x", str(script)))
        notify_log = x.dir / "notify.log"
        try:
            (p if backup else x).start()
            time.sleep(0.5)
            (x if backup else p).start()
            holder = p if backup else x
            wait_for(lambda: {a.split()[0] for a in global_addresses(holder)} >= set(case.masters), 40)
            other = x if backup else p
            settled = re.compile(r"Entering (BACKUP|FAULT) STATE|entering FAULT|VRRP_Script\(chk\) failed")
            wait_for(lambda: settled.search(other.logs()) is not None, 20)
            time.sleep(0.5)
            x_mark, p_mark = len(x.logs()), len(p.logs())
            n_mark = len(notify_log.read_text().splitlines()) if notify_log.exists() else 0
            x.conf.write_text(render(x_new, "x", str(script)))
            p.conf.write_text(render(p_new, "p", None))
            x.signal(signal.SIGHUP)
            wait_for(lambda: "Reload complete" in x.logs()[x_mark:], 10)
            p.signal(signal.SIGHUP)  # after X: when both restart as BACKUP, X's down timer ends first
            time.sleep(SETTLE)
            side = Side(
                x_lines=key_lines(x.logs()[x_mark:]),
                reloads=x.logs()[x_mark:].count("Reload complete"),
                drops=drop_rules(x),
                p_lines=key_lines(p.logs()[p_mark:]),
                notifies=sorted(notify_log.read_text().splitlines()[n_mark:]) if notify_log.exists() else [],
                x_addrs=global_addresses(x),
                p_addrs=global_addresses(p),
                logs=dump_logs(x, p),
            )
        except AssertionError as exc:
            raise AssertionError(f"{impl}: {exc}\n{dump_logs(x, p)}") from exc
        finally:
            discard(x, p)
    return side


@pytest.mark.parametrize(("change", "role"), [(c, r) for c, case in CASES.items() for r in case.roles])
def test_reload_matrix(change: str, role: str) -> None:
    case = CASES[change]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        ka_f, py_f = (pool.submit(run_side, impl, case, role) for impl in ("ka", "py"))
        ka, py = ka_f.result(), py_f.result()
    msg = f"\n=== keepalived\n{ka.logs}\n=== pykeepalived\n{py.logs}"
    assert py.x_lines == ka.x_lines, msg
    assert py.reloads == ka.reloads == 1, msg
    assert py.notifies == ka.notifies, msg
    assert py.x_addrs == ka.x_addrs, msg
    assert py.drops == ka.drops, msg
    assert py.p_lines == ka.p_lines, msg
    assert py.p_addrs == ka.p_addrs, msg
