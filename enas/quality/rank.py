"""Rank agreement between two scores of the same architectures: Kendall's tau-b, Spearman's rho, top-k agreement,
and a bootstrap interval for any of them. Used by the rank checks (shared-weight accuracy against stand-alone
accuracy)."""
from __future__ import annotations

import math
import random


def kendall_tau(x, y) -> float:
    """Kendall's tau-b (ties counted as in scipy.stats.kendalltau); nan when either side is constant."""
    _check(x, y)
    concordant = discordant = ties_x = ties_y = 0
    n = len(x)
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denom = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denom if denom else math.nan


def ranks(values) -> list:
    """Ranks from 1, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman_rho(x, y) -> float:
    """Spearman's rho: the Pearson correlation of the ranks; nan when either side is constant."""
    _check(x, y)
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else math.nan


def top(values, k: int) -> list:
    """Indices of the k largest values, largest first; ties broken by position (the earlier one ranks higher),
    so the same values always give the same k indices."""
    return sorted(range(len(values)), key=lambda i: (-values[i], i))[:k]


def top_k_agreement(x, y, k: int) -> float:
    """The fraction of y's top k that are also in x's top k (|top k of x and of y| / k; symmetric). Ties are
    broken by position, as in `top`."""
    _check(x, y)
    if not 1 <= k <= len(x):
        raise ValueError(f"top-k agreement needs 1 <= k <= {len(x)} (the architectures), got k={k}")
    return len(set(top(x, k)) & set(top(y, k))) / k


def bootstrap_interval(x, y, statistic, reps: int = 2000, level: float = 0.95, seed: int = 0) -> tuple:
    """Percentile bootstrap interval of statistic(x, y) over resampled pairs (resamples where it is undefined
    are left out); (nan, nan) when none is defined."""
    _check(x, y)
    rng = random.Random(seed)
    n, values = len(x), []
    for _ in range(reps):
        idx = [rng.randrange(n) for _ in range(n)]
        v = statistic([x[i] for i in idx], [y[i] for i in idx])
        if not math.isnan(v):
            values.append(v)
    if not values:
        return math.nan, math.nan
    values.sort()
    lo = values[int(math.floor((1 - level) / 2 * (len(values) - 1)))]
    hi = values[int(math.ceil((1 + level) / 2 * (len(values) - 1)))]
    return lo, hi


def _check(x, y):
    if len(x) != len(y):
        raise ValueError(f"the two scores have different lengths ({len(x)} and {len(y)})")
    if len(x) < 2:
        raise ValueError(f"rank agreement needs at least 2 architectures, got {len(x)}")
