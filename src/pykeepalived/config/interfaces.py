# Theory of operation
# -------------------
# The interfaces a configuration names, checked against the system (the network namespace) it runs
# in, as keepalived's VRRP child checks them while it reads the file: each missing one gets its
# parser warning, and without `dynamic_interfaces` the child stops with CONFIG_BAD_IF. Used by the
# config test (configtest.py) and by the VRRP child at start and at a reload.
"""Interfaces named by the configuration that the system lacks."""

from __future__ import annotations

import os
import socket

from pykeepalived.config.diag import NOWHERE, ConfigErr, Diagnostic, Reporter
from pykeepalived.config.model import Model


def system_interfaces() -> set[str]:
    try:
        return set(os.listdir("/sys/class/net"))
    except OSError:
        return {name for _, name in socket.if_nameindex()}


def check_interfaces(model: Model, rep: Reporter, interfaces: set[str] | None = None) -> bool:
    """The interfaces the configuration names that this system (network namespace) lacks, each
    with keepalived's parser warning, then, without dynamic_interfaces, keepalived's CONFIG_BAD_IF
    `Non-existent interface specified in configuration`: its VRRP child stops there, under -t and at
    start alike (vrrp_daemon.c start_vrrp). True if one is missing."""
    ifs = system_interfaces() if interfaces is None else interfaces
    bad_if = False
    dynamic = model.global_defs.dynamic_interfaces
    for inst in model.vrrp_instances:
        if inst.interface is not None and inst.interface not in ifs:
            rep.error(
                inst.interface_loc,
                f"WARNING - interface {inst.interface} for vrrp_instance {inst.name} doesn't exist",
                ConfigErr.WARNING,
            )
            bad_if = True
        for t in inst.tracks:
            if t.kind == "interface" and t.name not in ifs:
                rep.error(t.loc, f"({inst.name}) tracked interface {t.name} doesn't exist", ConfigErr.WARNING)
                bad_if = True
        for vip in inst.vips + inst.evips:
            if vip.dev is not None and vip.dev not in ifs:
                rep.error(
                    vip.loc,
                    f"WARNING - interface {vip.dev} for ip address {vip.address} doesn't exist",
                    ConfigErr.WARNING,
                )
                bad_if = True
    for vip in model.static_ipaddress:
        dev = vip.dev or model.global_defs.default_interface
        if dev not in ifs:
            rep.error(
                vip.loc,
                f"WARNING - interface {dev} for ip address {vip.address} doesn't exist",
                ConfigErr.WARNING,
            )
            bad_if = True
    for routes in (model.static_routes, *(i.virtual_routes for i in model.vrrp_instances)):
        for r in routes:
            for dev in r.devs[:1]:  # keepalived drops the line at the first missing interface
                if dev not in ifs and not dynamic:
                    rep.error(r.loc, f"WARNING - interface {dev} for VROUTE nexthop doesn't exist")
                    bad_if = True
    for rules in (model.static_rules, *(i.virtual_rules for i in model.vrrp_instances)):
        for ru in rules:
            for dev in ru.devs[:1]:
                if dev not in ifs and not dynamic:
                    rep.error(ru.loc, f"WARNING - interface {dev} for rule doesn't exist")
                    bad_if = True
    for row, loc in zip(model.linkbeat_interfaces, model.linkbeat_locs, strict=False):
        if len(row) > 1 and row[1] not in ifs and not dynamic:  # CONFIG_FATAL in vrrp_parser.c
            what = "linkbeat interface" if row[0] == "linkbeat_interfaces" else "up/down delay"
            rep.error(loc, f"unknown interface {row[1]} specified for {what}", ConfigErr.FATAL)
    if bad_if and not dynamic:
        rep.error(NOWHERE, "Non-existent interface specified in configuration", ConfigErr.BAD_IF)
    return bad_if


def interface_diagnostics(model: Model) -> list[Diagnostic]:
    """check_interfaces' lines when an interface is missing (none when all exist)."""
    rep = Reporter()
    return rep.diags if check_interfaces(model, rep) else []
