"""The one percentile of the project (latency tables of the eval, the bench, the load test, bench-scale).

``percentile(values, p)``: the median for p = 50 (the mean of the two middle values when their number is
even), the nearest-rank percentile otherwise (the smallest value with at least p% of the values at or
below it). ``None`` values are not allowed; an empty list gives 0.0. Nothing is rounded here: callers
round for display. This module computes no other statistic.
"""
from __future__ import annotations

import math
import statistics


def percentile(values, p: float) -> float:
    ordered = sorted(float(v) for v in values)
    if not ordered:
        return 0.0
    if p == 50:
        return float(statistics.median(ordered))
    rank = math.ceil(p / 100 * len(ordered))            # nearest rank, 1-based
    return ordered[max(0, min(len(ordered) - 1, rank - 1))]
