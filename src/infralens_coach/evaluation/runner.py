"""Grade every row of an evaluation set and compute the agreement report (a plain dict, JSON-ready)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..content import DIMENSIONS, Rubric
from ..errors import AnswerError, GraderError
from ..grading.base import Grade, Grader
from . import metrics
from .calibrate import CalibrationMap, cross_validate
from .dataset import Row, RowQuestions, human_scale
from .probes import run_probes


def _grade(
    grader: Grader, question, rubric: Rubric, answer: str
) -> tuple[Grade | None, GraderError | AnswerError | None]:
    try:
        return grader.grade(question, rubric, answer), None
    except (GraderError, AnswerError) as exc:  # ungraded, never a zero
        return None, exc


def dimension_agreement(rows: Sequence[Row], grades: Sequence[Grade]) -> dict:
    """Per rubric dimension: grader 0-4 vs the human 0-4 label, on rows that carry that label."""
    out = {}
    for dim in DIMENSIONS:
        pairs = [
            (g.dimension(dim).score, r.labels[dim], g.dimension(dim).max_score)
            for r, g in zip(rows, grades, strict=True)
            if dim in r.labels
        ]
        if not pairs:
            continue
        g, h, m = (np.array(v, dtype=float) for v in zip(*pairs, strict=True))
        out[dim] = {
            k: metrics.clean(v)
            for k, v in {
                "n": len(g),
                "assessed": int(np.sum(m > 0)),  # rows where the grader had points for this dimension
                "pearson": metrics.pearson(g, h),
                "spearman": metrics.spearman(g, h),
                "qwk": metrics.quadratic_weighted_kappa(g, h, 0, 4),
                "exact": metrics.exact(g, h),
                "within_1": metrics.within(g, h),
                "mean_grader": g.mean(),
                "mean_human": h.mean(),
            }.items()
        }
    return out


def evaluate(
    rows: Sequence[Row],
    grader: Grader,
    rubric: Rubric,
    questions: RowQuestions,
    *,
    calibrate_k: int | None = None,
    probes: bool = False,
    samples: int = 1,
    source: str = "",
) -> tuple[dict, CalibrationMap | None]:
    start = time.perf_counter()
    graded: list[tuple[Row, object, Grade]] = []
    ungraded: list[dict] = []
    first_failure: GraderError | AnswerError | None = None
    for row in rows:
        question = questions(row)
        grade, failure = _grade(grader, question, rubric, row.answer)
        if grade is None:
            first_failure = first_failure or failure
            ungraded.append({"line": row.line, "reason": f"{type(failure).__name__}: {failure}"})
        else:
            graded.append((row, question, grade))
    seconds = time.perf_counter() - start
    if len(graded) < 2:
        # The first failure's own class (GraderUnavailable, GradeParseError...), so --json can name it.
        error = type(first_failure) if isinstance(first_failure, GraderError) else GraderError
        raise error(
            f"only {len(graded)} of {len(rows)} rows could be graded: at least 2 graded rows are needed"
            + (f" (first problem: {ungraded[0]['reason']})" if ungraded else "")
        )
    ok_rows = [r for r, _, _ in graded]
    grades = [g for _, _, g in graded]
    human, lo, hi = human_scale(ok_rows)
    overall = np.array([g.overall for g in grades], dtype=float)
    mapped = metrics.to_scale(overall, lo, hi)
    lengths = [metrics.word_count(r.answer) for r in ok_rows]
    groups = [r.group for r in ok_rows]
    report: dict = {
        "grader": getattr(grader, "name", type(grader).__name__),
        "source": source,
        **metrics.agreement(mapped, human, lengths=lengths, groups=groups, lo=lo, hi=hi),
        "raw_pearson_overall": metrics.clean(metrics.pearson(overall, human)),
        "scale": {"min": lo, "max": hi},
        "rows": len(rows),
        "ungraded": len(ungraded),
        "ungraded_rows": ungraded[:20],
        "decided_by": dict(Counter(g.decided_by for g in grades)),  # who decided, which may not be `grader`
        "fell_back": sum(1 for g in grades if g.fallback_reason),  # rows an earlier grader did not decide
        "fallback_reasons": dict(Counter(g.fallback_reason for g in grades if g.fallback_reason).most_common(5)),
        "graded_against_bank_cards": questions.from_bank,
        "seconds": round(seconds, 3),
        "seconds_per_1000": round(1000 * seconds / len(rows), 2),
    }
    dims = dimension_agreement(ok_rows, grades)
    if dims:
        report["dimensions"] = dims
    cmap = None
    if calibrate_k:
        predicted, _ = cross_validate(overall, human, groups, calibrate_k)
        heldout = metrics.agreement(predicted, human, lengths=lengths, groups=groups, lo=lo, hi=hi)
        report["calibration"] = {"folds": calibrate_k, "grouped_by": "question", "heldout": heldout}
        cmap = CalibrationMap.fit(
            overall, human, grader=report["grader"], scale_min=lo, scale_max=hi, source=source, heldout=heldout
        )
        report["calibration"]["map_knots"] = len(cmap.knots_x)
    if samples and samples > 1:
        report["consistency"] = consistency(graded, grader, rubric, samples)
    if probes:

        def score(question, text):
            grade, _ = _grade(grader, question, rubric, text)
            return None if grade is None else float(grade.overall)

        report["probes"] = run_probes(
            [(q, r.reference_answer, r.answer, float(g.overall)) for r, q, g in graded], score
        )
    return report, cmap


def consistency(graded, grader: Grader, rubric: Rubric, k: int) -> dict:
    """How often K gradings of one answer agree exactly, per answer (all dimensions) and per dimension.

    A grader that samples itself (the LLM chain with samples=K) reports every dimension's K scores in
    `Grade.samples`; any other grader is simply asked K times.
    """
    rows_same = dim_same = dim_total = 0
    spreads: list[int] = []
    n = 0
    for row, question, first in graded:
        if first.samples:
            per_dim = {s.dimension: s.scores for s in first.samples}
        else:
            runs = [first]
            for _ in range(k - 1):
                grade, _ = _grade(grader, question, rubric, row.answer)
                if grade is not None:
                    runs.append(grade)
            if len(runs) < k:
                continue
            per_dim = {d: tuple(g.dimension(d).score for g in runs) for d in DIMENSIONS if first.dimension(d).max_score}
        if not per_dim:
            continue
        n += 1
        same = [len(set(scores)) == 1 for scores in per_dim.values()]
        rows_same += all(same)
        dim_same += sum(same)
        dim_total += len(same)
        spreads.append(max(max(s) - min(s) for s in per_dim.values()))
    return {
        k_: metrics.clean(v)
        for k_, v in {
            "samples": k,
            "n": n,
            "exact_agreement_answers": rows_same / n if n else float("nan"),
            "exact_agreement_dimensions": dim_same / dim_total if dim_total else float("nan"),
            "mean_max_spread_levels": float(np.mean(spreads)) if spreads else float("nan"),
        }.items()
    }
