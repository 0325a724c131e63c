"""Isotonic calibration: a monotone map from a grader's overall score (0-100) to a human scale.

`fit_isotonic` is the pool-adjacent-violators algorithm: the least-squares non-decreasing fit. The map is
stored as knots (x, y) and applied by linear interpolation between knots, flat beyond the ends, so it
stays monotone and never leaves the human scale.

`cross_validate` fits in k folds grouped by question (all answers to a question fall in one fold), so the
held-out figures say how the map does on questions it never saw. A map fitted on all rows can be saved as
JSON and applied by `CalibratedGrader`, for example the `calibration.json` beside a question pack.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..content import Question, Rubric
from ..errors import ContentError
from ..grading.base import Grade, Grader
from .metrics import Figures, Numbers

FORMAT = "infralens-calibration/1"
PACK_FILE = "calibration.json"  # a pack directory may carry one; the question loader ignores non-YAML files


def fit_isotonic(x: Numbers, y: Numbers, weights: Numbers | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares non-decreasing fit of y on x. Returns knots (distinct x ascending, fitted y)."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ws = np.ones_like(xs) if weights is None else np.asarray(weights, dtype=float)
    if xs.shape != ys.shape or xs.shape != ws.shape or xs.ndim != 1 or len(xs) == 0:
        raise ValueError("isotonic fit needs non-empty 1-D x, y (and weights) of one length")
    order = np.argsort(xs, kind="mergesort")
    xs, ys, ws = xs[order], ys[order], ws[order]
    # Tied x values must get one fitted value: start from their weighted mean.
    ux, start = np.unique(xs, return_index=True)
    w0 = np.add.reduceat(ws, start)
    y0 = np.add.reduceat(ws * ys, start) / w0
    # Pool adjacent violators on a stack of blocks (mean, weight, number of knots).
    means: list[float] = []
    wsum: list[float] = []
    sizes: list[int] = []
    for m, w in zip(y0, w0, strict=True):
        means.append(float(m))
        wsum.append(float(w))
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            w_new = wsum[-2] + wsum[-1]
            m_new = (means[-2] * wsum[-2] + means[-1] * wsum[-1]) / w_new
            s_new = sizes[-2] + sizes[-1]
            del means[-1], wsum[-1], sizes[-1]
            means[-1], wsum[-1], sizes[-1] = m_new, w_new, s_new
    fitted = np.repeat(means, sizes)
    return ux, fitted


def apply_knots(knots_x: np.ndarray, knots_y: np.ndarray, x: Sequence[float] | float) -> np.ndarray:
    return np.interp(np.asarray(x, dtype=float), knots_x, knots_y)


def group_folds(groups: Sequence[Hashable], k: int, seed: int = 0) -> np.ndarray:
    """Fold number (0..k-1) per row; every row of a group lands in the same fold."""
    unique = sorted({str(g) for g in groups})
    if k < 2:
        raise ValueError("calibration needs at least 2 folds")
    if k > len(unique):
        raise ValueError(f"{k} folds but only {len(unique)} questions: use at most {len(unique)} folds")
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = {unique[i]: n % k for n, i in enumerate(order)}
    return np.array([fold_of[str(g)] for g in groups], dtype=int)


def cross_validate(
    x: Numbers, y: Numbers, groups: Sequence[Hashable], k: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out calibrated predictions for every row, and the fold of each row."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    folds = group_folds(groups, k, seed)
    predicted = np.empty_like(ys)
    for fold in range(k):
        test = folds == fold
        knots_x, knots_y = fit_isotonic(xs[~test], ys[~test])
        predicted[test] = apply_knots(knots_x, knots_y, xs[test])
    return predicted, folds


@dataclass(frozen=True)
class CalibrationMap:
    """Grader overall (0-100) -> human scale [scale_min, scale_max], monotone."""

    grader: str
    knots_x: tuple[float, ...]
    knots_y: tuple[float, ...]
    scale_min: float
    scale_max: float
    n: int
    source: str = ""
    heldout: Figures | None = None  # the cross-validated figures when it was fitted, for the record
    created_utc: str = ""

    @classmethod
    def fit(
        cls,
        overall: Numbers,
        human: Numbers,
        *,
        grader: str,
        scale_min: float,
        scale_max: float,
        source: str = "",
        heldout: Figures | None = None,
    ) -> CalibrationMap:
        kx, ky = fit_isotonic(overall, human)
        return cls(
            grader,
            tuple(float(v) for v in kx),
            tuple(round(float(v), 6) for v in ky),
            float(scale_min),
            float(scale_max),
            len(overall),
            source,
            heldout,
            datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )

    def human(self, overall: float | Sequence[float]) -> np.ndarray:
        """Calibrated score on the human scale."""
        return apply_knots(np.array(self.knots_x), np.array(self.knots_y), overall)

    def overall(self, overall: float) -> int:
        """Calibrated score back on the app's 0-100 scale."""
        span = self.scale_max - self.scale_min
        value = float(self.human(overall)) if span > 0 else 0.0
        return int(min(100, max(0, round(100 * (value - self.scale_min) / span)))) if span > 0 else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            **dataclasses.asdict(self),
            "knots_x": list(self.knots_x),
            "knots_y": list(self.knots_y),
        }

    @classmethod
    def from_json(cls, data: object, where: str = "calibration") -> CalibrationMap:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ContentError(f'{where}: not a calibration map (expected "format": "{FORMAT}")')
        try:
            cmap = cls(
                str(data["grader"]),
                tuple(float(v) for v in data["knots_x"]),
                tuple(float(v) for v in data["knots_y"]),
                float(data["scale_min"]),
                float(data["scale_max"]),
                int(data["n"]),
                str(data.get("source", "")),
                data.get("heldout"),
                str(data.get("created_utc", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ContentError(f"{where}: malformed calibration map ({exc})") from exc
        kx, ky = np.array(cmap.knots_x), np.array(cmap.knots_y)
        if len(kx) == 0 or len(kx) != len(ky) or np.any(np.diff(kx) <= 0) or np.any(np.diff(ky) < 0):
            raise ContentError(f"{where}: knots must be non-empty, x strictly increasing and y non-decreasing")
        if any(math.isnan(v) for v in (*kx, *ky)):
            raise ContentError(f"{where}: knots contain NaN")
        return cmap

    def save(self, path: Path) -> None:
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> CalibrationMap:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ContentError(f"{path}: cannot read calibration map ({exc})") from exc
        return cls.from_json(data, str(path))


def calibration_for(question: Question) -> CalibrationMap | None:
    """The pack's calibration map (calibration.json beside the card's file), if there is one."""
    if not question.path:
        return None
    path = Path(question.path).parent / PACK_FILE
    return CalibrationMap.load(path) if path.is_file() else None


@dataclass
class CalibratedGrader:
    """Wraps any Grader: same dimensions and evidence, overall replaced by the calibrated value.

    With `cmap=None` it looks up each card's pack map (`calibration_for`) and leaves cards without one as
    they are. Only maps fitted for the wrapped grader's name are applied.
    """

    inner: Grader
    cmap: CalibrationMap | None = None

    @property
    def name(self) -> str:
        return self.inner.name

    def grade(self, question: Question, rubric: Rubric, answer: str) -> Grade:
        grade = self.inner.grade(question, rubric, answer)
        cmap = self.cmap or calibration_for(question)
        base = grade.decided_by.split(":", 1)[0]
        if cmap is None or cmap.grader.split(":", 1)[0] != base:
            return grade
        return dataclasses.replace(
            grade, overall=cmap.overall(grade.overall), decided_by=f"{grade.decided_by} (calibrated)"
        )
