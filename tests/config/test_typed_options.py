"""The global_defs keywords the daemon acts on are typed fields of GlobalDefs (named as the keyword),
not entries the runtime looks up in `options`; the dump prints them back to an equal model."""

from __future__ import annotations

from pathlib import Path

from pykeepalived.config import load_config
from pykeepalived.config.dump import dump_model
from pykeepalived.daemon.addrmap import rule_from_config

CONF = """global_defs {
 vmac_prefix vx
 vmac_addr_prefix va
 disable_local_igmp
 min_auto_priority_delay 5000
 fifo_write_vrrp_states_on_reload
 no_email_faults
 rs_init_notifies
 no_checker_emails false
 use_symlink_paths
 set_supplementary_groups true
 config_save_dir /tmp/x/
 pykeepalived_control_socket off
 pykeepalived_metrics_address 127.0.0.1:9000
}
"""


def test_global_keywords_are_typed(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(CONF)
    model, diags = load_config(str(conf))
    assert diags == []
    g = model.global_defs
    assert (g.vmac_prefix, g.vmac_addr_prefix, g.config_save_dir) == ("vx", "va", "/tmp/x/")
    assert (g.disable_local_igmp, g.fifo_write_vrrp_states_on_reload, g.no_email_faults) == (True, True, True)
    assert (g.rs_init_notifies, g.no_checker_emails, g.use_symlink_paths, g.set_supplementary_groups) == (
        True, False, True, True)
    assert g.min_auto_priority_delay_us == 5000
    assert g.pykeepalived_control_socket == "off"
    assert g.pykeepalived_metrics_address == ("127.0.0.1", "9000")
    assert g.options == ()  # nothing left for the runtime to look up by keyword
    conf.write_text(dump_model(model))
    again, _ = load_config(str(conf))
    assert again == model


def test_unset_keywords(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text("global_defs {\n router_id r\n}\n")
    g = load_config(str(conf))[0].global_defs
    assert (g.vmac_prefix, g.min_auto_priority_delay_us, g.rs_init_notifies, g.disable_local_igmp) == (
        None, None, None, False)


INSTANCE = """vrrp_instance VI_1 {{
 interface eth0
 virtual_router_id 1
 virtual_ipaddress {{
  192.0.2.1
 }}
{lines}
}}
"""


def test_instance_keywords_are_typed(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(INSTANCE.format(lines=" use_vmac vx1 02:00:5e:00:01:01\n vmac_xmit_base\n use_vmac_addr\n"
                                    " linkbeat_use_polling\n kernel_rx_buf_size 65536\n track_src_ip\n"))
    model, diags = load_config(str(conf))
    assert diags == []
    (i,) = model.vrrp_instances
    assert i.use_vmac is not None and (i.use_vmac.name, i.use_vmac.mac) == ("vx1", "02:00:5e:00:01:01")
    assert (i.vmac_xmit_base, i.use_vmac_addr, i.linkbeat_use_polling, i.track_src_ip) == (True,) * 4
    assert (i.kernel_rx_buf_size, i.promote_secondaries, i.unicast_fault_no_peer) == (65536, False, False)
    assert i.options == ()
    conf.write_text(dump_model(model))
    again, _ = load_config(str(conf))
    assert again == model


def test_unicast_use_vmac_sets_xmit_base(tmp_path: Path) -> None:
    """keepalived's vrrp_end_handler forces vmac_xmit_base on a unicast instance with use_vmac."""
    conf = tmp_path / "k.conf"
    conf.write_text(INSTANCE.format(lines=" use_vmac\n unicast_peer {\n  192.0.2.9\n }\n"))
    model, diags = load_config(str(conf))
    assert [d.message for d in diags] == ["(VI_1) unicast with use_vmac requires vmac_xmit_base - setting"]
    (i,) = model.vrrp_instances
    assert i.vmac_xmit_base and i.use_vmac is not None and i.use_vmac.name is None


def test_rule_options_are_typed(tmp_path: Path) -> None:
    """The rule options the netlink layer takes are parsed in the configuration (daemon/addrmap.py
    looked the words up, and a `uidrange 1-5x` that -t accepts raised in the VRRP child)."""
    conf = tmp_path / "k.conf"
    conf.write_text(INSTANCE.format(lines=" virtual_rules {\n  from 192.0.2.0/24 table main preference 7"
                                    " suppress_prefixlength 8 suppress_ifgroup 0x10 tunnel-id 5 uidrange 1-5x"
                                    " sport 80-90 dport 53 ipproto icmpv6\n }\n"))
    model, _ = load_config(str(conf))
    (r,) = model.vrrp_instances[0].virtual_rules
    assert (r.suppress_prefixlength, r.suppress_ifgroup, r.tun_id, r.ipproto) == (8, 16, 5, 58)
    assert (r.uidrange, r.sport, r.dport) == ((1, 5), (80, 90), (53, 53))
    a = rule_from_config(r)
    assert (a.uidrange, a.sport, a.ipproto, a.suppress_ifgroup) == ((1, 5), (80, 90), 58, 16)
    conf.write_text(dump_model(model))
    again, _ = load_config(str(conf))
    assert again == model
