"""A real SMTP server (aiosmtpd) for tests: `python smtp_sink.py ADDR PORT OUTFILE` appends one JSON line
per message received ({"from", "to", "data"}); with `--hang` it accepts connections and never speaks."""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import Any

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out: str) -> None:
        self.out = out

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with open(self.out, "a") as f:
            f.write(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                                "data": envelope.content.decode(errors="replace")}) + "\n")
        return "250 OK"


def main() -> None:
    addr, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if "--hang" in sys.argv:
        s = socket.create_server((addr, port), backlog=16)  # the kernel completes handshakes; we never greet
        open(out, "a").close()
        while True:
            time.sleep(3600)
    ctl = Controller(Sink(out), hostname=addr, port=port)
    ctl.start()
    open(out, "a").close()  # ready
    try:
        while True:
            time.sleep(3600)
    finally:
        ctl.stop()
        s = None  # noqa: F841


if __name__ == "__main__":
    main()
