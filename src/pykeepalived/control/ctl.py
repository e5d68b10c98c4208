# Theory of operation
# -------------------
# `pykeepalivedctl` is a thin client of both children's control sockets (jsonlines.py): the VRRP
# child's (server.py, -s) and the checker child's (check_server.py, --check-socket, by default
# STEM_check.SUFFIX beside the VRRP one, as the daemon names it). It sends one JSON line to each
# child the command concerns, prints the replies as tables for people or as one merged JSON object
# for programs (--json), and returns an exit status scripts can test:
#   0  everything as expected (no FAULT, no lost quorum; every --expect NAME=STATE holds)
#   1  a child unreachable, or it refused the request
#   2  usage error
#   3  some instance is in FAULT
#   4  an --expect NAME=STATE does not hold (or names nothing known)
#   5  some virtual server has lost quorum
# When several apply the first in the order 1, 4, 3, 5 is returned. A child whose socket file does
# not exist is *absent* (the configuration has no vrrp_instance, or no virtual_server, or -P / -C):
# the other child's part is shown alone and the exit status is computed from it; an existing socket
# that does not answer is a dead child (exit 1). Both absent is exit 1.
# `unit` talks to no daemon: it prints the systemd unit of this installation (unit.py), 0 or 1 when
# no pykeepalived entry point is found.
"""pykeepalivedctl: status, stats, dump, reload and live events of a running pykeepalived; the systemd
unit of this installation."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import queue
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from pykeepalived.control.server import DEFAULT_SOCKET, check_socket_for
from pykeepalived.vrrp.effects import State

EXIT_OK = 0
EXIT_UNREACHABLE = 1
EXIT_USAGE = 2
EXIT_FAULT = 3
EXIT_UNEXPECTED = 4
EXIT_QUORUM = 5
PRECEDENCE = (EXIT_UNREACHABLE, EXIT_UNEXPECTED, EXIT_FAULT, EXIT_QUORUM)
STATES = {int(s): s.word for s in State if s is not State.STOP}  # the socket's numeric states
SOCKET_ENV = "PYKEEPALIVED_SOCKET"
CHECK_SOCKET_ENV = "PYKEEPALIVED_CHECK_SOCKET"


class Unreachable(Exception):
    def __init__(self, message: str, absent: bool = False) -> None:
        super().__init__(message)
        self.absent = absent  # the socket file does not exist: that child is not running


class Client:
    """One connection to a control socket."""

    def __init__(self, path: str, timeout: float | None = 5.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as exc:
            self.sock.close()
            raise Unreachable(f"cannot connect to {path}: {exc.strerror or exc}",
                              absent=exc.errno == errno.ENOENT) from None
        self.file = self.sock.makefile("rb")

    def request(self, req: dict[str, Any]) -> dict[str, Any]:
        try:
            self.sock.sendall(json.dumps(req).encode() + b"\n")
        except OSError as exc:  # closed at once: maybe after saying why (`too many clients`)
            with contextlib.suppress(OSError, ValueError):
                line = self.file.readline()
                if line.startswith(b"{"):
                    said: dict[str, Any] = json.loads(line)
                    return said
            raise Unreachable(f"control socket: {exc}") from None
        try:
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
        with contextlib.suppress(OSError):  # wakes a thread blocked reading events (it holds the
            self.sock.shutdown(socket.SHUT_RDWR)  # file's lock that close() waits for)
        self.file.close()
        self.sock.close()


def ask(path: str, req: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One request on a fresh connection; failures come back as {"ok": false, "error", "absent"}."""
    try:
        client = Client(path, timeout)
    except Unreachable as exc:
        return {"ok": False, "error": str(exc), "absent": exc.absent}
    try:
        return client.request(req)
    except Unreachable as exc:
        return {"ok": False, "error": str(exc), "absent": False}
    finally:
        client.close()


def worst(codes: Sequence[int]) -> int:
    for code in PRECEDENCE:
        if code in codes:
            return code
    return EXIT_OK


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
            d["ifp_ifname"], ",".join(d.get("vips", []) + d.get("evips", [])) or "-",
            _ago(d.get("last_transition", 0.0), now),
        ])
    return rows


def _checker_summary(rs: dict[str, Any]) -> str:
    parts = []
    for c in rs.get("checkers", []):
        text = f"{c['type']} {'up' if c['up'] else 'down'}"
        if not c["up"] and c.get("reason"):
            text += f": {c['reason']}"
        parts.append(text)
    return ", ".join(parts) or "-"


def services_rows(reply: dict[str, Any], checkers: bool = False, now: float | None = None) -> list[list[str]]:
    """Virtual servers as keepalived prints them, each followed by its real servers (`-> ...`, as
    ipvsadm), and with `checkers` one line per checker under its real server."""
    now = time.time() if now is None else now
    rows = [["VIRTUAL SERVER", "STATE", "WEIGHT", "QUORUM", "LB", "LAST TRANSITION", "CHECKERS"]]
    for vs in reply.get("virtual_servers", []):
        state = "SUSPENDED" if vs["suspended"] else ("UP" if vs["quorum_up"] else "QUORUM LOST")
        quorum = str(vs["quorum"]) + (f"±{vs['hysteresis']}" if vs["hysteresis"] else "")
        sorry = ""
        if vs.get("sorry_server"):
            active = "active" if vs["sorry_server_active"] else "inactive"
            sorry = f"sorry server {vs['sorry_server']} {active}"
        rows.append([vs["virtual_server"], state, str(vs["alive_weight"]), quorum,
                     f"{vs['lb_algo']} {vs['lb_kind']}", _ago(vs["last_transition"], now), sorry])
        for rs in vs["real_servers"]:
            weight = str(rs["effective_weight"])
            if rs["effective_weight"] != rs["weight"]:
                weight += f" ({rs['weight']})"
            rows.append([f"  -> {rs['real_server']}", "UP" if rs["alive"] else "DOWN", weight, "",
                         rs["lb_kind"], _ago(rs["last_transition"], now), _checker_summary(rs)])
            if not checkers:
                continue
            for c in rs.get("checkers", []):
                last = c.get("last_result") or "not run yet"
                detail = f"{'up' if c['up'] else 'down'}, last {last} {_ago(c['last_check'], now)}"
                if c.get("reason") and c.get("last_result") == "failure":
                    detail += f": {c['reason']}"
                rows.append([f"       {c['type']}", "", "", "", "", "", f"{c['target']} {detail}"])
    return rows


def bgp_rows(bgp: dict[str, Any]) -> list[list[str]]:
    """`pykeepalivedctl bgp`: one line per bgp_announce instance."""
    rows = [["INSTANCE", "STATE", "MODE", "ANNOUNCED", "ANCHOR", "ADDRESSES"]]
    for name, b in sorted(bgp.items()):
        rows.append([name, b["state"], b["mode"], "yes" if b["anchor"] else "no", b["anchor"] or "-",
                     " ".join(b["addresses"]) or "-"])
    return rows


def table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def _rs_names(rs: dict[str, Any]) -> set[str]:
    return {rs["real_server"], f"{rs['address']}:{rs['port']}", rs["address"]}


def check_expectations(reply: dict[str, Any], expect: Sequence[str]) -> tuple[int, list[str]]:
    """FAULT instances and lost quorums, then every --expect NAME=STATE: NAME an instance (STATE
    MASTER, BACKUP, FAULT, INIT), a virtual server as keepalived prints it (UP or DOWN: its quorum),
    a real server (`[IP]:tcp:PORT`, `IP:PORT` or `IP`; UP or DOWN, in every virtual server that has
    it) or `RS@VS` for one virtual server's real server."""
    states = {i["data"]["iname"]: STATES.get(i["data"]["state"], "?") for i in reply.get("vrrp", [])}
    vss = reply.get("virtual_servers", [])
    problems = [f"{n} is FAULT" for n, s in states.items() if s == "FAULT"]
    codes = [EXIT_FAULT] if problems else []
    lost = [f"{v['virtual_server']} has lost quorum" for v in vss
            if not v["quorum_up"] and not v["suspended"]]
    if lost:
        problems += lost
        codes.append(EXIT_QUORUM)
    for e in expect:
        name, _, want = e.partition("=")
        want = want.upper()
        got: list[str] = []
        if name in states:
            got = [states[name]]
        else:
            rs_name, at, vs_name = name.partition("@")
            for v in vss:
                if at and vs_name != v["virtual_server"]:
                    continue
                if not at and name in (v["virtual_server"], *v["services"]):
                    got.append("UP" if v["quorum_up"] else "DOWN")
                for r in v["real_servers"]:
                    if rs_name in _rs_names(r):
                        got.append("UP" if r["alive"] else "DOWN")
        if not got or any(g != want for g in got):
            problems.append(f"{name} is {'/'.join(sorted(set(got))) or 'unknown'}, expected {want}")
            codes.append(EXIT_UNEXPECTED)
    return worst(codes), problems


def format_event(ev: dict[str, Any]) -> str:
    ts = time.strftime("%H:%M:%S", time.localtime(ev.get("time", time.time())))
    frac = f"{ev.get('time', 0.0) % 1:.3f}"[1:]
    kind = ev.get("event")
    if kind == "state":
        return (f"{ts}{frac} ({ev['iname']}) {ev['old']} -> {ev['new']} priority {ev['priority']}"
                f" ({ev['reason']})")
    if kind == "notify":
        return f"{ts}{frac} notify {ev['target']} \"{ev['name']}\" {ev['state']} {ev['priority']}"
    if kind == "real_server":
        reason = f" ({ev['reason']})" if ev.get("reason") else ""
        return f"{ts}{frac} RS {ev['real_server']} of VS {ev['virtual_server']} {ev['state']}{reason}"
    if kind == "quorum":
        return f"{ts}{frac} VS {ev['virtual_server']} quorum {ev['state']}"
    return f"{ts}{frac} {json.dumps(ev)}"


def _global_options(p: argparse.ArgumentParser, defaults: bool) -> None:
    """The options of every command. Also accepted after the command (`status --json`): there they
    default to SUPPRESS, so that an option given before the command is not reset."""
    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    p.add_argument("-s", "--socket", default=default(os.environ.get(SOCKET_ENV, DEFAULT_SOCKET)),
                   help=f"the VRRP child's control socket (default ${SOCKET_ENV} or {DEFAULT_SOCKET})")
    p.add_argument("--check-socket", default=default(os.environ.get(CHECK_SOCKET_ENV)),
                   help=f"the checker child's control socket (default ${CHECK_SOCKET_ENV}, or "
                        "NAME_check.sock beside the VRRP one)")
    p.add_argument("--json", action="store_true", default=default(False), help="machine-readable output")
    p.add_argument("--timeout", type=float, default=default(5.0), help="seconds to wait for the daemon")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pykeepalivedctl", description=__doc__)
    _global_options(p, True)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, False)
    sub = p.add_subparsers(dest="command")
    for name, text in (("status", "instances, then virtual servers and their real servers"),
                       ("instances", "VRRP instances only: state, priorities, master, VIPs, last transition"),
                       ("services", "virtual servers and real servers only: quorum, weights, checkers")):
        st = sub.add_parser(name, help=text, parents=[common])
        st.add_argument("--expect", action="append", default=[], metavar="NAME=STATE",
                        help="exit 4 unless NAME is in STATE (repeatable): an instance (MASTER, BACKUP...), "
                             "a virtual server (UP/DOWN: quorum), a real server or RS@VS (UP/DOWN)")
        if name != "instances":
            st.add_argument("--checkers", action="store_true",
                            help="one line per checker under its real server")
    sp = sub.add_parser("stats", help="keepalived's per-instance counters and the LVS traffic counters",
                        parents=[common])
    sp.add_argument("--clear", action="store_true", help="zero the VRRP counters after printing")
    sub.add_parser("dump", help="keepalived.data and keepalived_check.data", parents=[common])
    sub.add_parser("bgp", help="what bgp_announce announces (docs/bgp.md): instance, anchor, addresses",
                   parents=[common])
    sub.add_parser("reload", help="reload the configuration (SIGHUP to the parent)", parents=[common])
    fo = sub.add_parser("follow", help="print state changes, notifications, real server and quorum changes",
                        parents=[common])
    fo.add_argument("--count", type=int, default=0, help="exit after N events")
    un = sub.add_parser("unit", help="print the systemd unit of this installation (its pykeepalived)")
    un.add_argument("--exec", dest="exec_path", metavar="PATH",
                    help="the pykeepalived to run (default: the one beside this pykeepalivedctl)")
    return p


ROLES = {"status": ("vrrp", "checker"), "instances": ("vrrp",), "services": ("checker",),
         "stats": ("vrrp", "checker"), "dump": ("vrrp", "checker"), "follow": ("vrrp", "checker"),
         "reload": ("vrrp", "checker"), "bgp": ("vrrp",)}


def _err(text: str) -> None:
    print(f"pykeepalivedctl: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    cmd = args.command or "status"
    if cmd == "unit":
        return _unit(args.exec_path, out)
    paths = {"vrrp": args.socket, "checker": args.check_socket or check_socket_for(args.socket)}
    roles = ROLES[cmd]
    if cmd == "follow":
        return _follow(paths, args, out)
    replies: dict[str, dict[str, Any]] = {}
    for role in roles:
        req: dict[str, Any] = {"cmd": cmd if cmd not in ("instances", "services") else "status"}
        if cmd == "stats" and args.clear and role == "vrrp":
            req["clear"] = True
        replies[role] = ask(paths[role], req, args.timeout)
        if cmd == "reload" and replies[role].get("ok"):
            break  # one SIGHUP to the parent reloads both children
    ok = {r: v for r, v in replies.items() if v.get("ok")}
    failed = {r: v for r, v in replies.items() if not v.get("ok") and not (cmd == "reload" and ok)}
    unreachable = not ok or any(not v.get("absent") for v in failed.values())
    for v in failed.values():
        if not v.get("absent") or not ok:
            _err(v.get("error", "request failed"))
    merged: dict[str, Any] = dict(ok.get("vrrp", {}))
    if cmd in ("status", "services"):
        merged.setdefault("vrrp", [])
        merged["virtual_servers"] = ok.get("checker", {}).get("virtual_servers", [])
        merged["dataplane"] = ok.get("checker", {}).get("dataplane", "")
    elif "checker" in ok:
        merged["checker"] = ok["checker"]
    merged["ok"] = not unreachable
    merged["children"] = {r: {"ok": True, "pid": v.get("pid")} if v.get("ok") else
                          {"ok": False, "absent": bool(v.get("absent")), "error": v.get("error")}
                          for r, v in replies.items()}
    codes = [EXIT_UNREACHABLE] if unreachable else []
    problems: list[str] = []
    if cmd in ("status", "instances", "services") and ok:
        code, problems = check_expectations(merged, args.expect)
        codes.append(code)
    if args.json:
        out.write(json.dumps(merged, indent=1) + "\n")
    elif cmd in ("status", "instances", "services"):
        shown = False
        if "vrrp" in ok:
            table(status_rows(merged), out)
            shown = True
        if "checker" in ok:
            if shown:
                out.write("\n")
            table(services_rows(merged, getattr(args, "checkers", False)), out)
        for pr in problems:
            out.write(f"! {pr}\n")
    elif cmd == "stats":
        if "vrrp" in ok:
            out.write(ok["vrrp"]["text"])
        if "checker" in ok:
            out.write(("\n" if "vrrp" in ok else "") + f"LVS traffic ({ok['checker']['dataplane']}):\n")
            out.write(ok["checker"]["text"])
    elif cmd == "dump":
        out.write("".join(ok[r]["text"] for r in ("vrrp", "checker") if r in ok))
    elif cmd == "bgp" and ok:
        table(bgp_rows(ok["vrrp"]["bgp"]), out)
    elif cmd == "reload" and ok:
        out.write(f"reload requested (SIGHUP to pid {next(iter(ok.values()))['signalled']})\n")
    return worst(codes)


def _unit(exec_path: str | None, out: TextIO) -> int:
    from pykeepalived.control import unit

    exe = unit.entry_point() if exec_path is None else unit.runnable(exec_path)
    if exe is None:
        _err(f"{exec_path or 'the pykeepalived entry point of this installation'}: not found or not "
             "executable" + ("" if exec_path else "; give --exec PATH"))
        return EXIT_UNREACHABLE
    out.write(unit.render(exe, unit.doc_dir()))
    return EXIT_OK


def _follow(paths: dict[str, str], args: argparse.Namespace, out: TextIO) -> int:
    """Both children's events, merged in arrival order (one reader thread per socket)."""
    events: queue.Queue[dict[str, Any] | None] = queue.Queue()
    clients: list[Client] = []
    for role in ROLES["follow"]:
        try:
            client = Client(paths[role], args.timeout)
            reply = client.request({"cmd": "follow"})
        except Unreachable as exc:
            if not exc.absent:
                _err(str(exc))
                return EXIT_UNREACHABLE
            continue
        if not reply.get("ok"):
            _err(str(reply.get("error")))
            return EXIT_UNREACHABLE
        clients.append(client)
    if not clients:
        _err("cannot connect to " + " nor ".join(paths.values()) + ": no such file")
        return EXIT_UNREACHABLE

    def read(client: Client) -> None:
        try:
            for ev in client.events():
                events.put(ev)
        except (OSError, ValueError):
            pass
        events.put(None)

    for client in clients:
        threading.Thread(target=read, args=(client,), daemon=True).start()
    n = 0
    try:
        while (ev := events.get()) is not None:
            out.write((json.dumps(ev) if args.json else format_event(ev)) + "\n")
            out.flush()
            n += 1
            if args.count and n >= args.count:
                return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        for client in clients:
            client.close()
    _err("the daemon closed the event stream")
    return EXIT_UNREACHABLE


if __name__ == "__main__":
    sys.exit(main())
