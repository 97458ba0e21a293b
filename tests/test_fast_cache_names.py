"""The fast backend's compiled helpers have names of their own, so kernels cached by different
processes can be loaded side by side.

numba names a compiled function by its qualified name, its argument types and a per-process
counter (`B8v1000063` in the symbol), and a kernel module's on-disk cache (rnnalg/fast/backend.py)
keeps those symbols.  numba_rows.py makes its row loops in factories, one closure per operator:
before they carried the operator in their names, `_row_loops.<locals>.both` was the loop of `*`
in one process and of `+` in another under the same symbol, and a process that loaded two
kernels cached by different processes ran one of them with the other's loop (CI: a masked
zoneout state came out all zeros, tests/test_fast_backend.py's random spec; reproduced by
compiling two programs in two processes whose counters were offset by 15, then loading both
in a third).  Here: every helper compiled into one function has one counter per name and types,
i.e. no two different functions share a name."""
import collections
import re

import numpy as np
import pytest

from rnnalg import fast

pytestmark = pytest.mark.skipif(fast.unavailable_reason() is not None, reason="numba is not installed")


def test_the_helpers_of_each_operator_compile_under_names_of_their_own():
    from numba import njit

    from rnnalg.fast import numba_rows as R

    @njit
    def every_helper(a, b, m, s, out):
        x, y, z = R._add(a, b), R._sub(a, b), R._mul(a, b)  # row loops, matrix by matrix
        R._mul_into(a, 2.0, out)  # by a scalar
        R._add_into(a, 2.0, out)
        R._sub_into(a, 2.0, out)
        w = R._imul(x, m)  # broadcast (B, 1): the fallback loops
        w = R._iadd(w, m)
        w = R._isub(w, m)
        R._iadd_at(s, 0, a)  # X[t] op= y
        R._imul_at(s, 0, a)
        R._isub_at(s, 0, a)
        R._tanh_into(a, out)
        return x, y, z, w

    a = np.ones((2, 3))
    every_helper(a, a, np.ones((2, 1)), np.ones((2, 2, 3)), np.empty((2, 3)))
    ir = next(iter(every_helper.inspect_llvm().values()))
    defined = re.findall(r'^define[^@]*@"?([^"(\s]+)', ir, re.M)
    counters = collections.defaultdict(set)
    for symbol in defined:
        counter = re.search(r"B\d+v(\d+)", symbol)
        if counter:
            counters[re.sub(r"B\d+v\d+", "", symbol)].add(counter.group(1))
    assert sum(1 for s in defined if "numba_rows" in s) >= 12, defined  # the helpers are in the module
    shared = {symbol: sorted(c) for symbol, c in counters.items() if len(c) > 1}
    assert not shared, f"functions compiled under one name: {shared}"
