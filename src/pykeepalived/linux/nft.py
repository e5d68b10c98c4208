"""`nft -f -` transactions, for every nftables user: the checker's load-balancer data plane
(linux/nft_lb.py) and the VRRP child's firewall (linux/vrrp_nft.py). A module of its own so that the
VRRP child does not import the load balancer to run nft."""

from __future__ import annotations

import asyncio


class NftError(RuntimeError):
    pass


async def run_nft(script: str, *, nft: str = "nft", netns: str | None = None, check: bool = False) -> str:
    """Run one `nft -f -` transaction (atomic in the kernel) and return its output; NftError if it
    fails. `check` runs it with `-c` (parse and validate only). Shared by every nftables user
    (the load-balancer data plane linux/nft_lb.py, the VRRP firewall linux/vrrp_nft.py)."""
    cmd = [nft, *(("-c",) if check else ()), "-f", "-"]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate(script.encode())
    if proc.returncode:
        raise NftError(f"nft failed: {err.decode(errors='replace').strip()}")
    return out.decode(errors="replace")
