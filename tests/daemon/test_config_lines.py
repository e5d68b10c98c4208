"""keepalived's parent lines as it reads the configuration, side by side with keepalived 2.2.7
(issue 12): `Configuration file PATH` and, with -D, `Opening file '...'.` for the main file and each
included one (relative includes named as matched from the including file's directory), at start
and again at a reload; the children log none."""

from __future__ import annotations

import os
import re
import signal

import pytest

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import differential, instance_conf, log_lines, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.interop,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def test_opening_file_lines_as_keepalived(oracle_lab: tuple[Lab, Host, Host]) -> None:
    _, ka, py = oracle_lab
    conf = instance_conf(state="MASTER", prio=150) + "include conf.d/*.conf\ninclude DIR/abs.conf\n"
    wanted = re.compile(r"Opening file|Configuration file|Reloading|Reload complete")
    with differential([ka, py], conf) as pair:
        for n in pair:
            n.conf.write_text(conf.replace("DIR", str(n.dir)))
            (n.dir / "conf.d").mkdir()
            (n.dir / "conf.d" / "a.conf").write_text("include b.inc\n")
            (n.dir / "conf.d" / "b.inc").write_text("")
            (n.dir / "conf.d" / "c.conf").write_text("")
            (n.dir / "abs.conf").write_text("")
            n.start()
        for n in pair:
            wait_for(lambda n=n: "(VI_1) Entering MASTER STATE" in n.logs(), 30)
            n.signal(signal.SIGHUP)
        for n in pair:
            wait_for(lambda n=n: "Reload complete" in n.logs(), 30)
        lines = {n.impl: [x.replace(str(n.dir), "DIR") for x in log_lines(n, wanted)] for n in pair}
        read = ["Opening file 'DIR/keepalived.conf'.", "Configuration file DIR/keepalived.conf",
                "Opening file 'conf.d/a.conf'.", "Opening file 'b.inc'.", "Opening file 'conf.d/c.conf'.",
                "Opening file 'DIR/abs.conf'."]
        assert lines["py"] == lines["ka"] == [*read, "Reloading ...", *read, "Reloading", "Reload complete"]
