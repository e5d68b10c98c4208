# Theory of operation
# -------------------
# glibc's random()/srandom() (the default TYPE_3 generator: an additive feedback generator over 34
# words seeded by a Park-Miller sequence, its first 310 outputs discarded), so that `random_seed N`
# gives the same ${_RANDOM} values as keepalived, which seeds it with srandom(N) before reading the
# configuration (lib/parser.c) and computes random() % (max - min + 1) + min.
"""A pure-Python glibc random() for seeded ${_RANDOM}."""

from __future__ import annotations

_MASK32 = 0xFFFFFFFF


class GlibcRandom:
    def __init__(self, seed: int) -> None:
        seed &= _MASK32
        r = [seed or 1]
        for i in range(1, 31):
            # 16807 * r[i-1] % 2147483647 with the signed 32-bit arithmetic glibc uses
            prev = r[i - 1] if r[i - 1] < 2**31 else r[i - 1] - 2**32
            hi, lo = divmod(prev, 127773) if prev >= 0 else (-((-prev) // 127773), -((-prev) % 127773))
            word = 16807 * lo - 2836 * hi
            if word < 0:
                word += 2147483647
            r.append(word & _MASK32)
        r += [r[i - 31] for i in range(31, 34)]
        self._r = r
        for _ in range(310):
            self._next()

    def _next(self) -> int:
        r = self._r
        word = (r[-31] + r[-3]) & _MASK32
        r.append(word)
        del r[0]
        return word >> 1

    def random(self) -> int:
        return self._next()

    def randint(self, lo: int, hi: int) -> int:
        """keepalived get_random(): random() % (max - min + 1) + min."""
        return self.random() % (hi - lo + 1) + lo
