# Theory of operation
# -------------------
# `pykeepalivedctl` is a thin client of the VRRP child's control socket (server.py): it sends one
# JSON line, prints the reply as a table for people or as JSON for programs (--json), and returns
# an exit status scripts can test:
#   0  every instance as expected (no FAULT; every --expect NAME=STATE holds)
#   1  daemon unreachable, or it refused the request
#   2  usage error
#   3  some instance is in FAULT
#   4  an --expect NAME=STATE does not hold (or names an unknown instance)
"""pykeepalivedctl: status, stats, dump, reload and live events of a running pykeepalived."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from pykeepalived.control.server import DEFAULT_SOCKET

EXIT_OK = 0
EXIT_UNREACHABLE = 1
EXIT_USAGE = 2
EXIT_FAULT = 3
EXIT_UNEXPECTED = 4
STATES = {0: "INIT", 1: "BACKUP", 2: "MASTER", 3: "FAULT"}
SOCKET_ENV = "PYKEEPALIVED_SOCKET"


class Unreachable(Exception):
    pass


class Client:
    """One connection to the control socket."""

    def __init__(self, path: str, timeout: float | None = 5.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as exc:
            self.sock.close()
            raise Unreachable(f"cannot connect to {path}: {exc.strerror or exc}") from None
        self.file = self.sock.makefile("rb")

    def request(self, req: dict[str, Any]) -> dict[str, Any]:
        try:
            self.sock.sendall(json.dumps(req).encode() + b"\n")
            line = self.file.readline()
        except OSError as exc:
            raise Unreachable(f"control socket: {exc}") from None
        if not line:
            raise Unreachable("the daemon closed the connection")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def events(self) -> Iterator[dict[str, Any]]:
        self.sock.settimeout(None)
        for line in self.file:
            yield json.loads(line)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def _ago(ts: float, now: float) -> str:
    if not ts:
        return "-"
    d = max(0, int(now - ts))
    if d < 120:
        rel = f"{d}s"
    elif d < 7200:
        rel = f"{d // 60}m"
    else:
        rel = f"{d // 3600}h" if d < 172800 else f"{d // 86400}d"
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(ts))} ({rel} ago)"


def status_rows(reply: dict[str, Any], now: float | None = None) -> list[list[str]]:
    now = time.time() if now is None else now
    rows = [["INSTANCE", "STATE", "WANTED", "PRIO", "EFFECTIVE", "MASTER", "MASTER PRIO", "VRID", "INTERFACE",
             "VIPS", "LAST TRANSITION"]]
    for item in reply.get("vrrp", []):
        d = item["data"]
        state = STATES.get(d["state"], str(d["state"]))
        master = "this node" if d["state"] == 2 else (d.get("master_saddr") or "-")
        rows.append([
            d["iname"], state, STATES.get(d["wantstate"], str(d["wantstate"])), str(d["base_priority"]),
            str(d["effective_priority"]), master, str(d.get("master_priority", "")), str(d["vrid"]),
            d["ifp_ifname"], ",".join(d["vips"] + d.get("evips", [])) or "-",
            _ago(d.get("last_transition", 0.0), now),
        ])
    return rows


def table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def check_expectations(reply: dict[str, Any], expect: Sequence[str]) -> tuple[int, list[str]]:
    states = {i["data"]["iname"]: STATES.get(i["data"]["state"], "?") for i in reply.get("vrrp", [])}
    problems = [f"{n} is FAULT" for n, s in states.items() if s == "FAULT"]
    code = EXIT_FAULT if problems else EXIT_OK
    for e in expect:
        name, _, want = e.partition("=")
        got = states.get(name)
        if got != want.upper():
            problems.append(f"{name} is {got or 'unknown'}, expected {want.upper()}")
            code = max(code, EXIT_UNEXPECTED)
    return code, problems


def format_event(ev: dict[str, Any]) -> str:
    ts = time.strftime("%H:%M:%S", time.localtime(ev.get("time", time.time())))
    frac = f"{ev.get('time', 0.0) % 1:.3f}"[1:]
    if ev.get("event") == "state":
        return (f"{ts}{frac} ({ev['iname']}) {ev['old']} -> {ev['new']} priority {ev['priority']}"
                f" ({ev['reason']})")
    if ev.get("event") == "notify":
        return f"{ts}{frac} notify {ev['target']} \"{ev['name']}\" {ev['state']} {ev['priority']}"
    return f"{ts}{frac} {json.dumps(ev)}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pykeepalivedctl", description=__doc__)
    p.add_argument("-s", "--socket", default=os.environ.get(SOCKET_ENV, DEFAULT_SOCKET),
                   help=f"control socket (default ${SOCKET_ENV} or {DEFAULT_SOCKET})")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the daemon")
    sub = p.add_subparsers(dest="command")
    st = sub.add_parser("status", help="instances: state, priorities, master, VIPs, last transition")
    st.add_argument("--expect", action="append", default=[], metavar="NAME=STATE",
                    help="exit 4 unless instance NAME is in STATE (repeatable)")
    sp = sub.add_parser("stats", help="keepalived's per-instance counters")
    sp.add_argument("--clear", action="store_true", help="zero the counters after printing")
    sub.add_parser("dump", help="keepalived.data")
    sub.add_parser("reload", help="reload the configuration (SIGHUP to the parent)")
    fo = sub.add_parser("follow", help="print state changes and notifications live")
    fo.add_argument("--count", type=int, default=0, help="exit after N events")
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    cmd = args.command or "status"
    try:
        client = Client(args.socket, args.timeout)
    except Unreachable as exc:
        print(f"pykeepalivedctl: {exc}", file=sys.stderr)
        if args.json:
            out.write(json.dumps({"ok": False, "error": str(exc)}) + "\n")
        return EXIT_UNREACHABLE
    try:
        if cmd == "follow":
            return _follow(client, args, out)
        req: dict[str, Any] = {"cmd": cmd}
        if cmd == "stats" and args.clear:
            req["clear"] = True
        reply = client.request(req)
    except Unreachable as exc:
        print(f"pykeepalivedctl: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    finally:
        client.close()
    if not reply.get("ok"):
        print(f"pykeepalivedctl: {reply.get('error', 'request failed')}", file=sys.stderr)
        if args.json:
            out.write(json.dumps(reply) + "\n")
        return EXIT_UNREACHABLE
    code = EXIT_OK
    if cmd == "status":
        code, problems = check_expectations(reply, getattr(args, "expect", []))
        if args.json:
            out.write(json.dumps(reply, indent=1) + "\n")
        else:
            table(status_rows(reply), out)
            for pr in problems:
                out.write(f"! {pr}\n")
    elif args.json:
        out.write(json.dumps(reply, indent=1) + "\n")
    elif cmd in ("stats", "dump"):
        out.write(reply["text"])
    elif cmd == "reload":
        out.write(f"reload requested (SIGHUP to pid {reply['signalled']})\n")
    return code


def _follow(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    reply = client.request({"cmd": "follow"})
    if not reply.get("ok"):
        print(f"pykeepalivedctl: {reply.get('error')}", file=sys.stderr)
        return EXIT_UNREACHABLE
    n = 0
    try:
        for ev in client.events():
            out.write((json.dumps(ev) if args.json else format_event(ev)) + "\n")
            out.flush()
            n += 1
            if args.count and n >= args.count:
                return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_OK
    except OSError as exc:
        print(f"pykeepalivedctl: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print("pykeepalivedctl: the daemon closed the event stream", file=sys.stderr)
    return EXIT_UNREACHABLE


if __name__ == "__main__":
    sys.exit(main())
