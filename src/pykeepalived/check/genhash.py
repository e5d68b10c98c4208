"""pykeepalived-genhash: keepalived's genhash — fetch a page and print the digest of its body.

Options as keepalived's genhash: -s/--server ADDR, -p/--port PORT, -u/--url PATH, -S/--use-ssl,
-a/--use-virtualhost NAME, -m/--hash md5|sha1|sha224|sha256|sha384|sha512 (default md5),
-P/--protocol 1.0|1.0C|1.1, -t/--timeout SECS, -v/--verbose, -I/--sni, -r/--release, -h/--help.
Output: `MD5SUM = <hex>` (the hash name upper-cased), computed exactly as HTTP_GET/SSL_GET compute
`digest`: over the raw bytes after the response's header block.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys

from pykeepalived import __version__ as VERSION
from pykeepalived.check.model import ConnOpts, SslOpts
from pykeepalived.check.probes import Target
from pykeepalived.check.probes.http import build_request, client_context, fetch, host_header, split_response

HASHES = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genhash", add_help=False,
                                description="Digest of a web page for HTTP_GET/SSL_GET")
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("-r", "--release", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("-S", "--use-ssl", action="store_true")
    p.add_argument("-I", "--sni", action="store_true", help="send SNI")
    p.add_argument("-s", "--server")
    p.add_argument("-p", "--port", type=int)
    p.add_argument("-u", "--url")
    p.add_argument("-a", "--use-virtualhost")
    p.add_argument("-m", "--hash", default="md5", choices=HASHES)
    p.add_argument("-P", "--protocol", default="1.0", choices=("1.0", "1.0C", "1.1"))
    p.add_argument("-t", "--timeout", type=float, default=5.0)
    return p


async def digest_of(server: str, port: int, url: str, *, ssl: bool = False, vhost: str | None = None,
                    hash_name: str = "md5", protocol: str = "1.0", timeout: float = 5.0, sni: bool = False
                    ) -> tuple[int, bytes, str]:
    """(status code, raw response, hex digest of the body)."""
    t = Target(server, port, ConnOpts())
    req = build_request(url, host_header(t, vhost), protocol)
    ctx = client_context(SslOpts()) if ssl else None
    data = await fetch(t, req, timeout, ctx, (vhost or server) if sni else None)
    parsed = split_response(data)
    if parsed is None:
        raise ValueError("no HTTP response")
    code, body = parsed
    return code, data, hashlib.new(hash_name, body).hexdigest()


def main(argv: list[str] | None = None) -> int:
    p = parser()
    a = p.parse_args(argv)
    if a.help:
        p.print_help()
        return 0
    if a.release:
        print(f"genhash (pykeepalived) v{VERSION}")
        return 0
    if not a.server or not a.port or not a.url:
        print("genhash: --server, --port and --url are required", file=sys.stderr)
        return 1
    try:
        code, raw, hexd = asyncio.run(digest_of(
            a.server, a.port, a.url, ssl=a.use_ssl, vhost=a.use_virtualhost, hash_name=a.hash,
            protocol=a.protocol, timeout=a.timeout, sni=a.sni))
    except (OSError, TimeoutError, ValueError) as e:
        print(f"Error connecting server [{a.server}]:{a.port}: {e or 'timeout'}", file=sys.stderr)
        return 1
    if a.verbose:
        head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        print("-----------------------[    HTTP Header Buffer    ]-----------------------")
        print(head)
        print(f"-----------------------[ HTTP Header Ascii Buffer ]-----------------------\nstatus {code}")
    print(f"{a.hash.upper()}SUM = {hexd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
