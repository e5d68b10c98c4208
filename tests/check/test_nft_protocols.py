"""Regression: TCP, UDP, SCTP and fwmark virtual services together on the nftables data plane.

The services' maps were declared with `typeof ... tcp dport`, which nft refuses (`conflicting protocols
specified: udp vs. tcp`) once a UDP service's rules share the transaction with a fwmark service's: the
whole configuration of tests/check/test_ipvs_vm.py failed to load. Here the real daemon runs such a
configuration in a director namespace (UDP_CHECK on the UDP service) and a client reaches every service
through the VIP: TCP, UDP (datagrams answered by the real server through the director's NAT), the fwmark
service (the director marks VIP:8080 with 7), and SCTP when this kernel has it (else its service is
only checked to be programmed)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pykeepalived.lab import lb_lab
from tests.check.test_checker_daemon import Daemon

VIP = "198.51.100.10"
RS = "192.0.2.11"
RS_DEAD = "192.0.2.12"  # answers nothing: its UDP_CHECK fails, a second transaction edits the services

RESPONDER = r"""
import socket, sys, threading
addr = sys.argv[1]
def tcp(port, proto=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((addr, port)); s.listen(64)
    while True:
        c, _ = s.accept(); c.recv(512); c.sendall(f"{port} from {addr}".encode()); c.close()
def udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((addr, port))
    while True:
        data, peer = s.recvfrom(2048); s.sendto(b"udp " + data, peer)
threads = [threading.Thread(target=tcp, args=(80,)), threading.Thread(target=tcp, args=(8080,)),
           threading.Thread(target=udp, args=(53,))]
if sys.argv[2] == "1":
    threads.append(threading.Thread(target=tcp, args=(99, socket.IPPROTO_SCTP)))
for t in threads:
    t.daemon = True; t.start()
print("listening", flush=True)
threads[0].join()
"""

CLIENT = r"""
import json, socket, sys
vip, sctp = sys.argv[1], sys.argv[2] == "1"
out = {}
def stream(port, proto=0):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto); s.settimeout(3)
        s.connect((vip, port)); s.sendall(b"hello"); data = s.recv(512); s.close(); return data.decode()
    except OSError as e:
        return f"error {e}"
out["tcp"] = stream(80)
out["fwm"] = stream(8080)
if sctp:
    out["sctp"] = stream(99, socket.IPPROTO_SCTP)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3)
replies = []
for i in range(3):
    u.sendto(f"q{i}".encode(), (vip, 53))
    try:
        data, peer = u.recvfrom(2048); replies.append([data.decode(), peer[0], peer[1]])
    except OSError as e:
        replies.append([f"error {e}", "", 0])
out["udp"] = replies
print(json.dumps(out))
"""


def _have_sctp() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP).close()
        return True
    except OSError:
        return False


def conf() -> str:
    timing = "    delay_loop 1\n    connect_timeout 1\n    retry 1\n    delay_before_retry 0.5\n"
    return f"""global_defs {{
    router_id director
    lvs_dataplane nftables
}}
virtual_server {VIP} 80 {{
{timing}    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server {RS} 80 {{
        TCP_CHECK {{
        }}
    }}
}}
virtual_server fwmark 7 {{
{timing}    lb_algo rr
    lb_kind NAT
    real_server {RS} 8080 {{
        TCP_CHECK {{
            connect_port 8080
        }}
    }}
}}
virtual_server {VIP} 53 {{
{timing}    lb_algo wlc
    lb_kind NAT
    protocol UDP
    real_server {RS} 53 {{
        UDP_CHECK {{
            payload 7573
            require_reply 75647020
        }}
    }}
    real_server {RS_DEAD} 53 {{
        UDP_CHECK {{
            payload 7573
            require_reply 75647020
        }}
    }}
}}
virtual_server {VIP} 99 {{
{timing}    lb_algo rr
    lb_kind NAT
    protocol SCTP
    real_server {RS} 99 {{
    }}
}}
"""


@pytest.mark.netns
@pytest.mark.timeout(90)
def test_tcp_udp_sctp_fwmark_services_together(tmp_path: Path) -> None:
    sctp = _have_sctp()
    with lb_lab([RS, RS_DEAD], VIP) as lab:
        d = tmp_path
        (d / "keepalived.conf").write_text(conf())
        # the director marks VIP:8080 with 7 (mangle priority: before the plane's nat prerouting)
        (d / "mark.nft").write_text(
            "table ip marker {\n chain pre {\n  type filter hook prerouting priority mangle;\n"
            f"  ip daddr {VIP} tcp dport 8080 meta mark set 7\n }}\n}}\n")
        lab.director.run(["nft", "-f", str(d / "mark.nft")])
        rs = lab.servers[RS]
        resp = subprocess.Popen(["ip", "netns", "exec", rs.ns, sys.executable, "-c", RESPONDER, RS,
                                 "1" if sctp else "0"], stdout=subprocess.PIPE, text=True)
        daemon = None
        try:
            assert resp.stdout and resp.stdout.readline().strip() == "listening"
            daemon = Daemon(lab.director.ns, d)
            ruleset = ""
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                ruleset = lab.director.run(["nft", "list", "table", "ip", "pykeepalived_lb"], check=False)
                if all(s in ruleset for s in ("udp dport 53", "meta mark 0x00000007", "sctp dport 99")):
                    break
                time.sleep(0.2)
            # the dead server's removal re-renders the UDP service against its maps read back from the
            # kernel (a `th dport` typeof failed there with "conflicting protocols specified")
            daemon.wait_for(f"Removing service [{RS_DEAD}]:udp:53 from VS [{VIP}]:udp:53", 20)
            time.sleep(0.3)
            assert "conflicting protocols" not in daemon.log(), daemon.log()
            assert "nft failed" not in daemon.log(), daemon.log()
            for s in (f"ip daddr {VIP} udp dport 53 jump", f"ip daddr {VIP} sctp dport 99 jump",
                      f"ip daddr {VIP} tcp dport 80 jump", "meta mark 0x00000007 jump"):
                assert s in ruleset, f"{s!r} missing:\n{ruleset}\n{daemon.log()}"
            out = json.loads(lab.client.run([sys.executable, "-c", CLIENT, VIP, "1" if sctp else "0"],
                                            timeout=30))
            assert out["tcp"] == f"80 from {RS}", out
            assert out["fwm"] == f"8080 from {RS}", out
            if sctp:
                assert out["sctp"] == f"99 from {RS}", out
            # UDP: each datagram answered by the real server, seen by the client as coming from the VIP
            assert out["udp"] == [[f"udp q{i}", VIP, 53] for i in range(3)], out
        finally:
            if daemon is not None:
                daemon.proc.terminate()
                try:
                    daemon.proc.wait(15)
                except subprocess.TimeoutExpired:
                    daemon.proc.kill()
            resp.kill()
            resp.wait()
