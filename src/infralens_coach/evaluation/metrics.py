"""Agreement figures between a grader and human grades (numpy only, no scipy or sklearn).

Every function takes plain sequences and returns a float; a figure that is undefined (fewer than two
values, or a constant side) is `nan`, never a made-up 0. `nan` becomes `null` in JSON.

The grader's overall score (0-100) is put on the human scale by the fixed linear map
`lo + overall / 100 * (hi - lo)` (no fitting): RMSE, quadratic weighted kappa and within-±1 are computed on
that scale, kappa and within-±1 on scores rounded to whole scale points.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

Numbers = Sequence[float] | np.ndarray
Figures = dict[str, float | int | None]  # a block of figures, JSON-ready (nan already None)


def _pair(x: Numbers, y: Numbers) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"need two 1-D sequences of the same length, got {a.shape} and {b.shape}")
    return a, b


def pearson(x: Numbers, y: Numbers) -> float:
    a, b = _pair(x, y)
    if len(a) < 2:
        return math.nan
    da, db = a - a.mean(), b - b.mean()
    denom = math.sqrt(float(da @ da) * float(db @ db))
    return float(da @ db) / denom if denom > 0 else math.nan


def ranks(x: Numbers) -> np.ndarray:
    """1-based ranks; tied values share the mean of the ranks they occupy."""
    values = np.asarray(x, dtype=float)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mean_rank = ends - (counts - 1) / 2.0  # mean of starts+1 .. ends
    return mean_rank[inverse]


def spearman(x: Numbers, y: Numbers) -> float:
    a, b = _pair(x, y)
    return pearson(ranks(a), ranks(b)) if len(a) >= 2 else math.nan


def rmse(predicted: Numbers, truth: Numbers) -> float:
    a, b = _pair(predicted, truth)
    return float(np.sqrt(np.mean((a - b) ** 2))) if len(a) else math.nan


def to_scale(overall: Numbers, lo: float, hi: float) -> np.ndarray:
    """The grader's 0-100 overall on the human scale [lo, hi], by the fixed linear map."""
    return lo + np.asarray(overall, dtype=float) / 100.0 * (hi - lo)


def quadratic_weighted_kappa(a: Numbers, b: Numbers, lo: int | None = None, hi: int | None = None) -> float:
    """Cohen's kappa with quadratic weights on integer ratings (values are rounded first)."""
    x, y = _pair(a, b)
    if len(x) == 0:
        return math.nan
    x, y = np.rint(x).astype(int), np.rint(y).astype(int)
    lo = int(min(x.min(), y.min())) if lo is None else int(lo)
    hi = int(max(x.max(), y.max())) if hi is None else int(hi)
    x, y = np.clip(x, lo, hi) - lo, np.clip(y, lo, hi) - lo
    k = hi - lo + 1
    if k < 2:
        return math.nan
    observed = np.zeros((k, k))
    np.add.at(observed, (x, y), 1.0)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / len(x)
    i, j = np.indices((k, k))
    weights = (i - j) ** 2 / (k - 1) ** 2
    denom = float((weights * expected).sum())
    return 1.0 - float((weights * observed).sum()) / denom if denom > 0 else math.nan


def within(a: Numbers, b: Numbers, tolerance: float = 1.0) -> float:
    """Share of pairs whose rounded values differ by at most `tolerance` scale points."""
    x, y = _pair(a, b)
    return float(np.mean(np.abs(np.rint(x) - np.rint(y)) <= tolerance)) if len(x) else math.nan


def exact(a: Numbers, b: Numbers) -> float:
    return within(a, b, 0.0)


def partial_r(x: Numbers, y: Numbers, control: Numbers) -> float:
    """Correlation of x and y with `control` held fixed (first-order partial correlation)."""
    rxy, rxz, ryz = pearson(x, y), pearson(x, control), pearson(y, control)
    denom = math.sqrt(max(0.0, (1 - rxz**2) * (1 - ryz**2)))
    return (rxy - rxz * ryz) / denom if denom > 0 else math.nan


def per_group_mean_r(groups: Sequence[Hashable], x: Numbers, y: Numbers, min_size: int = 3) -> tuple[float, int]:
    """Mean Pearson r within each group (question) that has >= min_size rows and varies on both sides.

    Returns (mean r, number of groups that contributed). This is the figure that matters when one user
    compares attempts at the same question: can the grader rank them?
    """
    a, b = _pair(x, y)
    members: dict[Hashable, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    rs = []
    for idx in members.values():
        if len(idx) >= min_size:
            r = pearson(a[idx], b[idx])
            if not math.isnan(r):
                rs.append(r)
    return (float(np.mean(rs)) if rs else math.nan), len(rs)


def word_count(text: str) -> int:
    return len(text.split())


def agreement(
    predicted: Numbers,
    human: Numbers,
    *,
    lengths: Numbers,
    groups: Sequence[Hashable],
    lo: float,
    hi: float,
) -> Figures:
    """The standard block of figures for predictions already on the human scale [lo, hi]."""
    p, h = _pair(predicted, human)
    per_q, n_q = per_group_mean_r(groups, p, h)
    figures = {
        "n": len(p),
        "pearson": pearson(p, h),
        "spearman": spearman(p, h),
        "rmse": rmse(p, h),
        "qwk": quadratic_weighted_kappa(p, h, math.floor(lo), math.ceil(hi)),
        "within_1": within(p, h),
        "exact": exact(p, h),
        "length_r": pearson(p, lengths),
        "human_length_r": pearson(h, lengths),
        "length_r_given_human": partial_r(p, lengths, h),
        "per_question_r": per_q,
        "per_question_groups": n_q,
    }
    return {k: clean(v) for k, v in figures.items()}


def clean(value: int | float | np.integer[Any] | np.floating[Any] | None) -> float | int | None:
    """nan -> None and numpy scalars -> Python numbers, rounded for display (JSON-safe)."""
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(float(value)) else round(float(value), 4)
    return value
