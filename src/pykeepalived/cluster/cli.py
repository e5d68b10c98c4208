# Theory of operation
# -------------------
# `pykeepalived-cluster`, the thin shell around the pure cores: it reads the nodes' files with the
# configuration layer's own loader (load_config, with each node's config-id for the `@node` lines),
# prints each file's own diagnostics as `pykeepalived -t` would, and hands the models to
# cluster/check.py (`check`) or cluster/whatif.py (`whatif`). Each node is one argument
# `[NAME=]FILE[@CONFIG_ID]`: CONFIG_ID is what the node's daemon gets with `-i` (keepalived's default,
# the host name, is the node's, not this machine's: so it defaults to NAME, else to "" which selects
# no `@name` line); NAME labels the node in the output (default: CONFIG_ID, else the router_id, else
# the file name). Exit codes (docs/cluster.md):
#   0 consistent   1 warnings only   2 at least one error   3 a file has errors of its own
#   (keepalived -t would fail) or cannot be read   4 bad command line (or events)
# whatif: 0, or 1 when two MASTERs of one router overlapped for more than a second; 3 and 4 alike.
"""Command line of pykeepalived-cluster (check, whatif)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from pykeepalived.cluster.check import Severity, check
from pykeepalived.cluster.model import Cluster, ClusterNode
from pykeepalived.cluster.whatif import parse_events, render, run_whatif
from pykeepalived.config.diag import Diagnostic, exit_code
from pykeepalived.config.load import load_config
from pykeepalived.config.model import Model

EXIT_OK, EXIT_WARNINGS, EXIT_ERRORS, EXIT_CONFIG, EXIT_USAGE = 0, 1, 2, 3, 4
SPLIT_BRAIN_US = 1_000_000  # whatif exits 1 when two MASTERs last longer (a preemption overlaps < 1 ms)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


@dataclass(frozen=True)
class NodeArg:
    name: str | None
    path: str
    config_id: str | None


def parse_node_arg(text: str) -> NodeArg:
    name, path = (text.split("=", 1) if "=" in text.split("/", 1)[0] else (None, text))
    config_id = None
    base, at, cid = path.rpartition("@")
    if at and base and cid and "/" not in cid:
        path, config_id = base, cid
    return NodeArg(name or None, path, config_id)


def load_nodes(args: Sequence[str]) -> tuple[list[ClusterNode], list[tuple[str, Diagnostic]], bool]:
    """The nodes' models, their own diagnostics (node, diagnostic), and whether any file is broken
    for keepalived -t."""
    nodes: list[ClusterNode] = []
    diags: list[tuple[str, Diagnostic]] = []
    bad = False
    for a in map(parse_node_arg, args):
        cid = a.config_id if a.config_id is not None else (a.name or "")
        model, ds = load_config(a.path, cid, process="vrrp")
        name = a.name or a.config_id or model.global_defs.router_id or os.path.basename(a.path)
        taken = {n.name for n in nodes}
        k, base = 2, name
        while name in taken:
            name, k = f"{base}#{k}", k + 1
        nodes.append(ClusterNode(name, model))
        diags += [(name, d) for d in ds]
        bad |= exit_code(ds) != 0
    return nodes, diags, bad


def parse_lans(specs: Sequence[str]) -> dict[tuple[str, str], str]:
    out = {}
    for s in specs:
        where, _, lan = s.partition("=")
        node, _, iface = where.partition(":")
        if not (node and iface and lan):
            raise ValueError(f"--lan {s}: expected NODE:IFACE=LAN")
        out[(node, iface)] = lan
    return out


def cmd_check(ns: argparse.Namespace) -> int:
    nodes, diags, bad = load_nodes(ns.nodes)
    try:
        cluster = Cluster(tuple(nodes), parse_lans(ns.lan))
    except ValueError as exc:
        print(f"pykeepalived-cluster: {exc}", file=sys.stderr)
        return EXIT_USAGE
    findings = check(cluster)
    errors = sum(f.severity == Severity.ERROR for f in findings)
    warnings = len(findings) - errors
    if ns.json:
        print(json.dumps({
            "nodes": [n.name for n in nodes],
            "config_errors": [{"node": n, "message": d.format()} for n, d in diags if not d.log_only],
            "findings": [{"code": f.code, "severity": f.severity.name.lower(), "subject": f.subject,
                          "message": f.message, "fix": f.fix,
                          "sites": [{"node": s.node, "file": s.loc.file, "line": s.loc.line, "what": s.what}
                                    for s in f.sites]} for f in findings],
        }, indent=2))
    else:
        for n, d in diags:
            if not d.log_only:
                print(f"{n}: {d.format()}")
        if diags:
            print()
        for f in findings:
            print(f.format())
            print()
        routers = len(cluster.routers())
        print(f"{plural(len(nodes), 'node')}, {plural(routers, 'virtual router')}: "
              f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"
              + (", configuration errors in the files (above)" if bad else ""))
    if bad:
        return EXIT_CONFIG
    return EXIT_ERRORS if errors else EXIT_WARNINGS if warnings else EXIT_OK


def cmd_whatif(ns: argparse.Namespace) -> int:
    nodes, diags, bad = load_nodes(ns.nodes)
    for n, d in diags:
        if not d.log_only:
            print(f"{n}: {d.format()}")
    names = [n.name for n in nodes]
    try:
        lines: list[tuple[str, list[str]]] = [("--event", [e]) for e in ns.event]
        for path in ns.events:
            with open(path) if path != "-" else sys.stdin as f:
                lines.append((path, f.read().splitlines()))
        events, end = [], None
        for source, text in lines:
            evs, last = parse_events(text, source, names)
            events += evs
            end = last if last is not None else end
        events.sort(key=lambda e: e.time_us)
        if ns.until is not None:
            end = int(ns.until * 1_000_000)
        reloads: dict[str, Model] = {}
        for e in events:
            if e.action == "reload" and e.arg is not None and e.arg not in reloads:
                a = parse_node_arg(e.arg)
                cid = a.config_id if a.config_id is not None else e.node
                model, ds = load_config(a.path, cid, process="vrrp")
                for d in ds:
                    if not d.log_only:
                        print(f"{e.node} (reload): {d.format()}")
                bad |= exit_code(ds) != 0
                reloads[e.arg] = model
        addresses = dict(a.split("=", 1) for a in ns.address)
        cluster = Cluster(tuple(nodes), parse_lans(ns.lan))
        out = run_whatif(cluster, events, end, reloads, addresses)
    except (OSError, ValueError) as exc:  # EventError is a ValueError
        print(f"pykeepalived-cluster: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print("\n".join(render(out)))
    if bad:
        return EXIT_CONFIG
    split = any(b - a > SPLIT_BRAIN_US for r in out.routers for a, b in r.duals)
    return EXIT_WARNINGS if split else EXIT_OK


def plural(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def build_parser() -> argparse.ArgumentParser:
    node_help = ("a node: [NAME=]FILE[@CONFIG_ID] or [NAME=]FILE -i CONFIG_ID (the node's -i, selecting its "
                 "@node lines)")
    p = _Parser(prog="pykeepalived-cluster",
                description="Check a VRRP cluster's keepalived.conf files together, or ask what if.")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="report cross-node inconsistencies")
    c.add_argument("nodes", nargs="+", metavar="NODE", help=node_help)
    c.add_argument("--lan", action="append", default=[], metavar="NODE:IFACE=LAN",
                   help="interface IFACE of NODE is on LAN (default: the interface name is the LAN)")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.set_defaults(fn=cmd_check)
    w = sub.add_parser("whatif", help="run events through the simulator and print the timeline")
    w.add_argument("nodes", nargs="+", metavar="NODE", help=node_help)
    w.add_argument("--events", action="append", default=[], metavar="FILE",
                   help="events, one a line: TIME NODE ACTION [ARG] (- reads standard input)")
    w.add_argument("-e", "--event", action="append", default=[], metavar="'TIME NODE ACTION [ARG]'",
                   help="one event (repeatable)")
    w.add_argument("--until", type=float, metavar="SECONDS",
                   help="run until (default: 15 s after the last event)")
    w.add_argument("--address", action="append", default=[], metavar="NODE=ADDR",
                   help="the node's own address where the files do not say (default: 192.0.2.K, K-th node)")
    w.add_argument("--lan", action="append", default=[], metavar="NODE:IFACE=LAN", help="as for check")
    w.set_defaults(fn=cmd_whatif)
    return p


def join_config_ids(argv: Sequence[str]) -> list[str]:
    """`FILE -i ID` (the daemon's option, after a node's file) is `FILE@ID`."""
    out: list[str] = []
    k = 0
    while k < len(argv):
        if argv[k] in ("-i", "--config-id") and k + 1 < len(argv) and out and not out[-1].startswith("-"):
            out[-1] = f"{out[-1]}@{argv[k + 1]}"
            k += 2
            continue
        out.append(argv[k])
        k += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(join_config_ids(sys.argv[1:] if argv is None else argv))
    return int(ns.fn(ns))
