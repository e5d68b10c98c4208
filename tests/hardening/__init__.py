"""The adversarial tier (issue 20): what an attacker, a broken peer, a hostile client or an
operator's mistake can throw at the daemon, each case bounded in time, in namespaces the test makes,
and beside keepalived 2.2.7 where the comparison is the point. A defect found by a campaign gets its
case here, failing before the fix, so that no later change brings it back:

- test_file_safety: links and files planted by an unprivileged user where the daemon writes as root;
- test_control_flood: metrics scrapes and control-socket clients (floods, idle, slow, deep JSON)
  against a master at advert_int 0.1 s;
- test_junk_flood: forged bad-checksum adverts (AF_PACKET) against a live and a dead master;
- test_trackers_reload, test_script_security: trackers added and removed by reload, insecure or
  unrunnable scripts under enable_script_security;
- test_runtime_misconfig: addresses the host does not own, missing interfaces, unwritable pid files,
  peers that answer ICMP;
- test_respawn_lines: children killed by signals, unreachable SMTP servers: keepalived's texts.
"""
