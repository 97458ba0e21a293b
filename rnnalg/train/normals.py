"""numpy's float64 standard normals from a PCG64 Generator, drawn ~2.5× faster: the same numbers
and the same generator state afterwards, bit for bit (weight noise draws one per weight each
update; issue 21).

numpy's `Generator.standard_normal` is Marsaglia & Tsang's ziggurat (numpy's
`random_standard_normal`): per draw one 64-bit word r from the bit generator,

    i = r & 255;  s = bit 8 of r;  a = r >> 9 (52 bits);  x = ±a·w[i]   (− where s is set)
    a < k[i]  ->  x                                 (≈ 99 % of draws)
    i = 0     ->  the tail beyond R = 3.654…, from two more doubles u = (word >> 11)·2⁻⁵³ a try
    else      ->  x where (f[i−1] − f[i])·u + f[i] < exp(−x²/2) for one more double u; else again

`fill` runs that loop in numba over words drawn in bulk (`random_raw`), then sets the generator
to its state before plus exactly the words used (`advance`; its 32-bit buffer kept).  The tables
k, w, f are numpy's own, read from the static library numpy ships for C users
(numpy/random/lib/libnpyrandom.a, ELF x86-64/aarch64 objects); before first use `fill` checks
itself against `standard_normal` on 2¹⁹ draws.  Where any of that is missing or differs (no
numba, another bit generator, another platform), `fill` is `rng.standard_normal(out=out)`.
"""
from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np

TAIL_R = 3.6541528853610087963519472518  # the ziggurat's tail start, numpy's ziggurat_nor_r
TAIL_INV_R = 0.27366123732975827203338247596  # 1 / TAIL_R as numpy writes it (ziggurat_nor_inv_r)
TABLES = ("ki_double", "wi_double", "fi_double")  # numpy's k (uint64), w, f (float64), 256 each
CHECK_DRAWS = 1 << 19  # the self-check's length (≈ 3,500 wedge tests, ≈ 40 tail tries)

_state = {"kernel": None, "reason": None, "checked": False}


def _elf_tables(blob: bytes):
    """{name: bytes} of TABLES in one little-endian ELF64 relocatable object, or None."""
    if blob[:4] != b"\x7fELF" or blob[4] != 2 or blob[5] != 1 or TABLES[0].encode() not in blob:
        return None
    shoff, = struct.unpack_from("<Q", blob, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", blob, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", blob, shoff + i * shentsize) for i in range(shnum)]
    found = {}
    for sh in sections:
        if sh[1] != 2:  # SHT_SYMTAB
            continue
        strtab = sections[sh[6]]
        for at in range(sh[4], sh[4] + sh[5], 24):
            name_at, _, _, shndx, value, size = struct.unpack_from("<IBBHQQ", blob, at)
            end = blob.index(b"\0", strtab[4] + name_at)
            name = blob[strtab[4] + name_at:end].decode("ascii", "replace")
            if name in TABLES and size == 2048 and 0 < shndx < shnum:
                start = sections[shndx][4] + value
                found[name] = blob[start:start + size]
    return found if len(found) == len(TABLES) else None


def numpy_tables(library: Path | None = None):
    """(k, w, f): numpy's ziggurat tables from its libnpyrandom.a (an `ar` archive of ELF
    objects), or None where the file or the symbols are not there."""
    library = library or Path(np.__file__).parent / "random" / "lib" / "libnpyrandom.a"
    try:
        data = library.read_bytes()
    except OSError:
        return None
    if not data.startswith(b"!<arch>\n"):
        return None
    at = 8
    while at + 60 <= len(data):
        size = int(data[at + 48:at + 58].decode("ascii").strip() or 0)
        found = _elf_tables(data[at + 60:at + 60 + size])
        if found:
            return (np.frombuffer(found["ki_double"], "<u8").copy(), np.frombuffer(found["wi_double"], "<f8").copy(),
                    np.frombuffer(found["fi_double"], "<f8").copy())
        at += 60 + size + size % 2
    return None


U53 = 1.0 / 9007199254740992.0  # 2⁻⁵³: a word's top 53 bits as a double in [0, 1)


def _zig(words, out, k, w, f):
    """Fill `out` from the 64-bit `words` as numpy's ziggurat does; the words used, or -1 where
    they ran out (compiled by numba in `_compile`)."""
    used, n = 0, words.size
    for i in range(out.size):
        while True:
            if used >= n:
                return -1
            r = words[used]
            used += 1
            idx = r & np.uint64(0xFF)
            r = r >> np.uint64(8)
            a = (r >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
            x = float(a) * w[idx]
            if r & np.uint64(1):
                x = -x
            if a < k[idx]:
                out[i] = x
                break
            if idx == 0:  # the tail: x = R + ξ, ξ ~ Exp(R), accepted with prob. exp(−ξ²/2)
                while True:
                    if used + 2 > n:
                        return -1
                    xx = -TAIL_INV_R * math.log1p(-(float(words[used] >> np.uint64(11)) * U53))
                    yy = -math.log1p(-(float(words[used + 1] >> np.uint64(11)) * U53))
                    used += 2
                    if yy + yy > xx * xx:
                        break
                out[i] = -(TAIL_R + xx) if (a >> np.uint64(8)) & np.uint64(1) else TAIL_R + xx
                break
            if used >= n:
                return -1
            u = float(words[used] >> np.uint64(11)) * U53
            used += 1
            if (f[idx - 1] - f[idx]) * u + f[idx] < math.exp(-0.5 * x * x):
                out[i] = x
                break
    return used


def _compile():
    """`_zig` compiled (numba; its machine code cached on disk)."""
    from numba import njit

    from ..fast import cache_lock
    cache_lock.install()
    return njit(cache=True, nogil=True)(_zig)


def _draw(rng, out, kernel, tables, margin=None) -> bool:
    """The kernel's draw into `out` (float64, contiguous); False (rng untouched) where the bulk
    words ran out."""
    bits = rng.bit_generator
    before = bits.state
    spare = out.size // 16 + 64 if margin is None else margin  # ≈ 2.3 % of draws take more words
    used = kernel(bits.random_raw(out.size + spare), out.reshape(-1), *tables)
    bits.state = before
    if used < 0:
        return False
    bits.advance(used)
    after = bits.state
    if (after["has_uint32"], after["uinteger"]) != (before["has_uint32"], before["uinteger"]):
        after["has_uint32"], after["uinteger"] = before["has_uint32"], before["uinteger"]
        bits.state = after  # advance() empties the 32-bit buffer; standard_normal leaves it
    return True


def _self_check(kernel, tables) -> str | None:
    """None when the kernel repeats standard_normal (values and state) on CHECK_DRAWS draws."""
    want_rng, got_rng = np.random.Generator(np.random.PCG64(20261205)), np.random.Generator(np.random.PCG64(20261205))
    want_rng.random(dtype=np.float32)  # fill the 32-bit buffer: it must survive
    got_rng.random(dtype=np.float32)
    want, got = want_rng.standard_normal(CHECK_DRAWS), np.empty(CHECK_DRAWS)
    if not _draw(got_rng, got, kernel, tables):
        return "the self-check ran out of words"
    if want.tobytes() != got.tobytes() or want_rng.bit_generator.state != got_rng.bit_generator.state:
        return "the ziggurat kernel does not repeat numpy's standard_normal here"
    return None


def unavailable_reason() -> str | None:
    """Why `fill` falls back to numpy's own draw (None: the kernel is used); checks once."""
    if not _state["checked"]:
        _state["checked"] = True
        tables = numpy_tables()
        try:
            kernel = _compile() if tables is not None else None
        except ImportError:
            kernel = None
        if tables is None:
            _state["reason"] = "numpy's ziggurat tables were not found in numpy/random/lib/libnpyrandom.a"
        elif kernel is None:
            _state["reason"] = "numba is not installed"
        else:
            _state["reason"] = _self_check(kernel, tables)
            if _state["reason"] is None:
                _state["kernel"] = (kernel, tables)
    return _state["reason"]


def fill(rng, out: np.ndarray) -> None:
    """`rng.standard_normal(out=out)` for a float64 C-contiguous `out`: the same numbers and rng
    state, through the numba kernel where `unavailable_reason()` is None and rng is PCG64."""
    if (type(rng.bit_generator) is np.random.PCG64 and out.dtype == np.float64 and out.flags.c_contiguous
            and unavailable_reason() is None and _draw(rng, out, *_state["kernel"])):
        return
    rng.standard_normal(out=out)
