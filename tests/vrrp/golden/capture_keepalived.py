"""Capture real keepalived 2.2.7 adverts, GARPs and NAs as golden vectors (run as root, by hand).

    .venv/bin/python tests/vrrp/golden/capture_keepalived.py   # rewrites keepalived-2.2.7.json

Two network namespaces joined by a veth pair with fixed MACs: keepalived runs in one (only the VRRP
child, its config, pid files and logs in a temp dir), tcpdump captures in the other. The frames are
stored as hex together with the config that produced them, so the tests can pin our encoder to them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from vrrp_pcap import read_pcap  # noqa: E402

NS_A, NS_B = "pkagold-a", "pkagold-b"
MAC_A, MAC_B = "02:00:5e:10:00:01", "02:00:5e:10:00:02"

CONFIG = """
global_defs {
    router_id golden
    vrrp_garp_master_repeat 1
    vrrp_garp_master_delay 0
}
vrrp_instance V2_PASS {
    interface va
    virtual_router_id 51
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret12
    }
    virtual_ipaddress {
        192.0.2.51
    }
}
vrrp_instance V2_AH {
    interface va
    virtual_router_id 52
    priority 150
    advert_int 1
    authentication {
        auth_type AH
        auth_pass ahkey
    }
    virtual_ipaddress {
        192.0.2.52
    }
}
vrrp_instance V2_NONE {
    interface va
    virtual_router_id 56
    priority 200
    advert_int 2
    virtual_ipaddress {
        192.0.2.56
        192.0.2.57/32
    }
}
vrrp_instance V3_V4 {
    interface va
    version 3
    virtual_router_id 53
    priority 254
    advert_int 0.5
    virtual_ipaddress {
        192.0.2.53
        198.51.100.53
    }
}
vrrp_instance V3_UNICAST {
    interface va
    version 3
    virtual_router_id 55
    priority 120
    advert_int 1
    unicast_src_ip 192.0.2.1
    unicast_peer {
        192.0.2.2
    }
    virtual_ipaddress {
        192.0.2.55
    }
}
vrrp_instance V3_V6 {
    interface va
    virtual_router_id 54
    priority 100
    advert_int 1
    virtual_ipaddress {
        2001:db8::54
        2001:db8::55
    }
}
"""


def sh(*args: str, check: bool = True) -> None:
    subprocess.run(args, check=check, capture_output=True)


def main() -> None:
    out = HERE / "keepalived-2.2.7.json"
    for ns in (NS_A, NS_B):
        sh("ip", "netns", "del", ns, check=False)
    tmp = Path(tempfile.mkdtemp(prefix="pka-golden-"))
    try:
        sh("ip", "netns", "add", NS_A)
        sh("ip", "netns", "add", NS_B)
        sh(
            "ip",
            "-n",
            NS_A,
            "link",
            "add",
            "va",
            "address",
            MAC_A,
            "type",
            "veth",
            "peer",
            "name",
            "vb",
            "address",
            MAC_B,
            "netns",
            NS_B,
        )
        sh("ip", "-n", NS_A, "addr", "add", "192.0.2.1/24", "dev", "va")
        sh("ip", "-n", NS_B, "addr", "add", "192.0.2.2/24", "dev", "vb")
        for ns, dev in ((NS_A, "va"), (NS_B, "vb")):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_dad=0")
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        time.sleep(1)
        conf = tmp / "keepalived.conf"
        conf.write_text(CONFIG)
        pcap = tmp / "cap.pcap"
        dump = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                NS_B,
                "tcpdump",
                "-U",
                "-n",
                "-i",
                "vb",
                "-w",
                str(pcap),
                "vrrp or ip6 proto 112 or arp or icmp6 or proto 51",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.5)
        ka = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                NS_A,
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-P",
                "-f",
                str(conf),
                "-p",
                str(tmp / "k.pid"),
                "-r",
                str(tmp / "v.pid"),
                "--no-syslog",
                "--log-console",
            ],
            stdout=(tmp / "ka.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        time.sleep(9)
        ka.terminate()
        ka.wait(10)
        time.sleep(1)
        dump.terminate()
        dump.wait(10)
        frames = [f.hex() for _, f in read_pcap(pcap.read_bytes())]
        log = (tmp / "ka.log").read_text().splitlines()
        out.write_text(
            json.dumps(
                {"keepalived": "2.2.7", "mac_a": MAC_A, "config": CONFIG, "frames": frames, "log": log},
                indent=1,
            )
            + "\n"
        )
        print(f"{len(frames)} frames -> {out}")
    finally:
        for ns in (NS_A, NS_B):
            sh("ip", "netns", "del", ns, check=False)
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


if __name__ == "__main__":
    main()
