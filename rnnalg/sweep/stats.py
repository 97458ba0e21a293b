"""Spread over seeds, and whether one cell beats another by more than two standard errors.

For cells A and B with n_A, n_B seeds, means m_A, m_B and sample standard deviations s_A, s_B:

    SE(m_A - m_B) = sqrt(s_A² / n_A + s_B² / n_B)

B beats A (lower is better) when m_A - m_B > 2 SE.  With fewer than two seeds in either cell
there is no spread, so no verdict.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

THRESHOLD = 2.0  # standard errors


def mean_sd(values) -> tuple:
    """(mean, sample standard deviation or None for fewer than two values)."""
    values = list(values)
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


@dataclass(frozen=True)
class Difference:
    gain: float  # m_A - m_B: how much lower B is
    se: float | None  # None: a cell has fewer than two seeds

    @property
    def significant(self) -> bool | None:
        """True/False: B beats A by more than THRESHOLD SE or not; None: cannot tell."""
        return None if self.se is None else self.gain > THRESHOLD * self.se


def difference(a: list, b: list) -> Difference:
    """A's test figures vs B's (lower is better): B's gain over A and its standard error."""
    (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
    if sa is None or sb is None:
        return Difference(ma - mb, None)
    return Difference(ma - mb, math.sqrt(sa * sa / len(a) + sb * sb / len(b)))
