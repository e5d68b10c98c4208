"""keepalived.conf → checker specs: every checker kind, url blocks, the SSL block, FILE_CHECK's track_file,
keepalived's start-up corrections (quorum, hysteresis, ports, persistence), and the lvs_dataplane keyword."""

from __future__ import annotations

from pathlib import Path

import pytest

from pykeepalived.check.from_config import services_from_model
from pykeepalived.check.model import (
    DnsCheckSpec,
    FileCheckSpec,
    HttpCheckSpec,
    MiscCheckSpec,
    PingCheckSpec,
    SmtpCheckSpec,
    TcpCheckSpec,
    UdpCheckSpec,
    resolve_timing,
)
from pykeepalived.config import load_config
from pykeepalived.config.dump import dump_model
from pykeepalived.lvs.model import Forwarding, Protocol, ServiceKey

SAMPLES = Path(__file__).parents[1] / "config" / "samples"

CONF = """
global_defs {
    checker_log_all_failures true
}
SSL {
    password secret
    ca /etc/ssl/ca.pem
    certificate /etc/ssl/client.pem
    key /etc/ssl/client.key
}
track_file tf1 {
    file /run/tf1
    weight 5
}
virtual_server 203.0.113.10 80 {
    delay_loop 7
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    quorum 100
    hysteresis 3
    quorum_up "/bin/echo up"
    quorum_down /bin/qdown
    sorry_server 192.0.2.99 8080
    sh-port
    ops
    real_server 192.0.2.1 80 {
        weight 2
        notify_up /bin/rsup
        notify_down "/bin/rsdown x"
        HTTP_GET {
            url {
                path /health
                digest 0123456789ABCDEF0123456789abcdef
                status_code 200-204 301
                virtualhost www.example.com
            }
            url {
                path /regex
                regex "ok"
                regex_no_match
            }
            http_protocol 1.1
            connect_timeout 2
            retry 4
            delay_before_retry 0.5
        }
        SSL_GET {
            url {
                path /
            }
            enable_sni
            sni_name sni.example.com
            log_all_failures false
        }
    }
    real_server 192.0.2.2 {
        weight 3
        retry 9
        TCP_CHECK {
            connect_ip 192.0.2.22
            connect_port 8081
            bindto 192.0.2.250
            bind_port 5000
            fwmark 7
        }
        SMTP_CHECK {
            helo_name me.example.com
            host {
                connect_ip 192.0.2.30
                connect_port 2525
            }
            host {
                connect_ip 192.0.2.31
                connect_timeout 4
            }
        }
        MISC_CHECK {
            misc_path "/bin/check.sh arg" nobody
            misc_timeout 3
            misc_dynamic
        }
        DNS_CHECK {
            type A
            name example.com
        }
        UDP_CHECK {
            payload 0a0b0c
            require_reply 0a0X
        }
        PING_CHECK {
        }
        FILE_CHECK {
            track_file tf1
        }
        FILE_CHECK {
            track_file tf1
            weight -2 reverse
        }
    }
}
virtual_server fwmark 9 {
    lb_algo sh
    lb_kind DR
    real_server 192.0.2.5 {
        TCP_CHECK {
            connect_port 80
        }
    }
}
virtual_server 203.0.113.11 0 {
    lb_algo rr
    lb_kind DR
    protocol UDP
    persistence_granularity 255.255.255.0
    real_server 192.0.2.6 53 {
        DNS_CHECK {
        }
    }
}
"""


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    f = tmp_path / "keepalived.conf"
    f.write_text(text)
    return load_config(str(f), "x")


def test_every_checker_kind_and_vs_settings(tmp_path: Path) -> None:
    model, _ = _load(tmp_path, CONF)
    m = services_from_model(model)
    http_vs, fw_vs, udp_vs = m.services
    assert http_vs.key == ServiceKey(4, Protocol.TCP, "203.0.113.10", 80)
    assert http_vs.scheduler == "wrr" and http_vs.forwarding is Forwarding.NAT
    assert http_vs.flags == frozenset({"sh-port", "ops"})
    # quorum above the weight sum (2 + 3) is reduced to it; hysteresis below the reduced quorum is kept
    assert (http_vs.quorum, http_vs.hysteresis) == (5, 3)
    assert any("quorum 100" in w and "reducing quorum to 5" in w for w in m.warnings)
    assert http_vs.quorum_up == "/bin/echo up" and http_vs.quorum_down == "/bin/qdown"
    assert http_vs.sorry_server is not None
    assert (http_vs.sorry_server.addr, http_vs.sorry_server.port) == ("192.0.2.99", 8080)
    rs1, rs2 = http_vs.real_servers
    assert (rs1.weight, rs1.notify_up, rs1.notify_down) == (2, "/bin/rsup", "/bin/rsdown x")
    assert rs2.port == 80  # absent → the virtual server's port
    assert set(m.scripts) == {"/bin/rsup", "/bin/rsdown x", "/bin/echo up", "/bin/qdown"}

    http, ssl_get = rs1.checks
    assert isinstance(http, HttpCheckSpec) and not http.ssl
    assert [u.path for u in http.urls] == ["/health", "/regex"]
    u0, u1 = http.urls
    assert u0.digest == "0123456789abcdef0123456789abcdef"
    assert u0.status_codes == ((200, 204), (301, 301)) and u0.virtualhost == "www.example.com"
    assert u0.status_ok(204) and not u0.status_ok(205) and u0.status_ok(301)
    assert u1.regex == "ok" and u1.regex_no_match and u1.status_ok(200)
    assert http.http_protocol == "1.1" and http.log_all_failures
    t = resolve_timing(http, rs1, http_vs)
    assert (t.connect_timeout, t.retry, t.delay_before_retry, t.delay_loop) == (2_000_000, 4, 500_000,
                                                                                 7_000_000)
    assert isinstance(ssl_get, HttpCheckSpec) and ssl_get.ssl and ssl_get.enable_sni
    assert ssl_get.sni_name == "sni.example.com" and not ssl_get.log_all_failures
    assert ssl_get.ssl_opts.password == "secret" and ssl_get.ssl_opts.ca == "/etc/ssl/ca.pem"
    so = ssl_get.ssl_opts
    assert so.certificate == "/etc/ssl/client.pem" and so.key == "/etc/ssl/client.key"
    assert resolve_timing(ssl_get, rs1, http_vs).delay_before_retry == 3_000_000  # HTTP/SSL default

    tcp, smtp_a, smtp_b, misc, dns, udp, ping, file1, file2 = rs2.checks
    assert isinstance(tcp, TcpCheckSpec)
    c = tcp.conn
    assert (c.connect_ip, c.connect_port, c.bindto) == ("192.0.2.22", 8081, "192.0.2.250")
    assert (c.bind_port, c.fwmark) == (5000, 7)
    assert resolve_timing(tcp, rs2, http_vs).retry == 9  # real server → checker
    assert isinstance(smtp_a, SmtpCheckSpec) and isinstance(smtp_b, SmtpCheckSpec)
    assert smtp_a.helo_name == "me.example.com"
    assert (smtp_a.conn.connect_ip, smtp_a.conn.connect_port) == ("192.0.2.30", 2525)
    assert (smtp_b.conn.connect_ip, smtp_b.conn.connect_timeout) == ("192.0.2.31", 4.0)
    assert isinstance(misc, MiscCheckSpec)
    assert (misc.misc_path, misc.user) == ("/bin/check.sh arg", "nobody")
    assert misc.misc_timeout == 3.0 and misc.misc_dynamic
    assert isinstance(dns, DnsCheckSpec) and (dns.type, dns.name) == ("A", "example.com")
    assert resolve_timing(dns, rs2, http_vs).retry == 9
    assert isinstance(udp, UdpCheckSpec) and udp.payload == b"\x0a\x0b\x0c"
    assert udp.require_reply and udp.reply_pattern == "0a0X"
    assert isinstance(ping, PingCheckSpec)
    assert isinstance(file1, FileCheckSpec)
    assert (file1.file_path, file1.weight, file1.reverse) == ("/run/tf1", 5, False)
    assert isinstance(file2, FileCheckSpec) and (file2.weight, file2.reverse) == (-2, True)

    assert fw_vs.key == ServiceKey(4, Protocol.NONE, None, 0, 9) and fw_vs.forwarding is Forwarding.DR
    assert fw_vs.fmt() == "FWM 9" and fw_vs.real_servers[0].port == 0
    assert udp_vs.persistence_timeout == 360  # granularity (and port 0) imply 360 s
    assert udp_vs.real_servers[0].port == 0  # DR: forced to the VS port, with a warning
    assert any("forced to the virtual server port 0" in w for w in m.warnings)
    dt = resolve_timing(udp_vs.real_servers[0].checks[0], udp_vs.real_servers[0], udp_vs)
    assert (dt.retry, dt.delay_before_retry) == (3, 60_000_000)  # DNS_CHECK defaults


def test_hysteresis_reduced_and_unknown_track_file(tmp_path: Path) -> None:
    model, _ = _load(tmp_path, """
virtual_server 203.0.113.10 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 2
    hysteresis 2
    real_server 192.0.2.1 80 {
        weight 2
        FILE_CHECK {
            track_file nosuch
        }
    }
}
virtual_server 203.0.113.12 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
}
""")
    m = services_from_model(model)
    (vs,) = m.services
    assert (vs.quorum, vs.hysteresis) == (2, 1)
    assert vs.real_servers[0].checks == ()
    assert "FILE_CHECK track_file nosuch not found - ignoring" in m.warnings
    assert "Virtual server [203.0.113.12]:tcp:80 has no real servers - ignoring" in m.warnings


@pytest.mark.parametrize("name", ["keepalived.conf.quorum", "keepalived.conf.virtual_server_group",
                                  "keepalived.conf.SSL_GET", "keepalived.conf.misc_check",
                                  "keepalived.conf.UDP_CHECK", "keepalived.conf.fwmark",
                                  "keepalived.conf.inhibit", "keepalived.conf.IPv6"])
def test_keepalived_samples_map(name: str) -> None:
    model, _ = load_config(str(SAMPLES / name), "x")
    m = services_from_model(model)
    assert m.services, m.warnings
    for vs in m.services:
        assert vs.real_servers
        for rs in vs.real_servers:
            for c in rs.checks:
                t = resolve_timing(c, rs, vs)
                assert t.delay_loop > 0 and t.connect_timeout > 0


def test_lvs_dataplane_keyword(tmp_path: Path) -> None:
    """pykeepalived extension `global_defs { lvs_dataplane auto|ipvs|nftables }`."""
    for value in ("auto", "ipvs", "nftables"):
        model, diags = _load(tmp_path, f"global_defs {{\n    lvs_dataplane {value}\n}}\n")
        assert model.global_defs.lvs_dataplane == value and not diags
        again, _ = _load(tmp_path, dump_model(model))
        assert again.global_defs.lvs_dataplane == value
    model, diags = _load(tmp_path, "global_defs {\n    lvs_dataplane ebpf\n}\n")
    assert model.global_defs.lvs_dataplane is None
    assert [(d.loc.line, d.message) for d in diags] == [(2, "Invalid lvs_dataplane 'ebpf' - ignoring")]
    model, _ = _load(tmp_path, "global_defs {\n    router_id x\n}\n")
    assert model.global_defs.lvs_dataplane is None and "lvs_dataplane" not in dump_model(model)


GROUP_CONF = """
virtual_server_group G1 {
    203.0.113.1 80
    203.0.113.10-12 8080
    203.0.113.32/30 443
    203.0.113.1 80
    fwmark 7
    fwmark 8 inet6
    2001:db8::a-c 80
    203.0.113.40-30 80
    bogus 80
}
virtual_server group G1 {
    lb_algo wrr
    lb_kind DR
    protocol UDP
    real_server 192.0.2.1 80 {
        weight 3
        TCP_CHECK {
        }
    }
}
virtual_server 203.0.113.11 8080 {
    protocol UDP
    real_server 192.0.2.2 80 {
    }
}
"""


def test_group_entries_all_served(tmp_path: Path) -> None:
    """§1.12.2: every entry of a virtual_server_group is a service of its own, ranges expanded."""
    model, _ = _load(tmp_path, GROUP_CONF)
    m = services_from_model(model)
    (vs,) = [s for s in m.services if s.group == "G1"]
    udp = Protocol.UDP
    assert vs.keys == (
        ServiceKey(4, udp, "203.0.113.1", 80),
        *(ServiceKey(4, udp, f"203.0.113.{i}", 8080) for i in (10, 11, 12)),
        *(ServiceKey(4, udp, f"203.0.113.{i}", 443) for i in (32, 33, 34, 35)),
        ServiceKey(4, Protocol.NONE, None, 0, 7),
        ServiceKey(6, Protocol.NONE, None, 0, 8),
        *(ServiceKey(6, udp, f"2001:db8::{c}", 80) for c in "abc"),
    )
    assert vs.fmt() == "[G1]:80"
    bad = [w for w in m.warnings if "invalid entry" in w]
    assert len(bad) == 2 and "203.0.113.40-30 80" in bad[0] and "bogus 80" in bad[1]
    # the second virtual_server overlaps a group entry: keepalived's first-wins rule
    assert any("defined twice" in w for w in m.warnings)
    assert len(m.services) == 1


def test_group_bad_prefix_and_range_end(tmp_path: Path) -> None:
    conf = GROUP_CONF.replace("203.0.113.32/30 443", "203.0.113.33/30 443")
    m = services_from_model(_load(tmp_path, conf)[0])
    assert any("203.0.113.33/30 443" in w and "invalid entry" in w for w in m.warnings)
    assert not any(k.addr == "203.0.113.33" for s in m.services for k in s.keys)


def test_sample_group_serves_every_entry() -> None:
    model, _ = load_config(str(SAMPLES / "keepalived.conf.virtual_server_group"), "x")
    m = services_from_model(model)
    vs = next(s for s in m.services if s.group == "VSG_1")
    # 10.0.0.1, 10.0.0.2, 192.168.200.1, 192.168.200.3-10 (8 addresses), fwmark 1, fwmark 2
    assert len(vs.keys) == 13
    assert {k.fwmark for k in vs.keys if k.fwmark} == {1, 2}
