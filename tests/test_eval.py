"""Grader evaluation: the metrics against hand-computed values, isotonic calibration, probes, and `eval`
end to end (keyword grader; the LLM grader through the real chain against the local fake server)."""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from support.fake_openai import FakeOpenAI, Reply

from infralens_coach.cli import main
from infralens_coach.content import DIMENSIONS, QuestionBank, load_rubric
from infralens_coach.evaluation import metrics as M
from infralens_coach.evaluation.calibrate import (
    CalibratedGrader,
    CalibrationMap,
    cross_validate,
    fit_isotonic,
    group_folds,
)
from infralens_coach.evaluation.dataset import RowQuestions, load_rows
from infralens_coach.evaluation.probes import padded, run_probes, term_list
from infralens_coach.evaluation.runner import evaluate
from infralens_coach.grading import KeywordGrader

LABELLED = Path(__file__).resolve().parents[1] / "eval" / "labelled.csv"


# ---------------------------------------------------------------- metrics, by hand


def test_pearson_by_hand():
    assert M.pearson([1, 2, 3, 4], [2, 4, 6, 8]) == pytest.approx(1.0)
    # deviations (-1, 0, 1) and (-1, 1, 0): sum of products 1, norms sqrt(2) each -> 1 / 2
    assert M.pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert math.isnan(M.pearson([1, 1, 1], [1, 2, 3]))  # undefined, never a made-up 0


def test_spearman_uses_mean_ranks_for_ties():
    assert list(M.ranks([10, 20, 20, 30])) == [1, 2.5, 2.5, 4]
    # ranks (1, 2.5, 2.5, 4) vs (1, 2, 3, 4): 4.5 / sqrt(4.5 * 5)
    assert M.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert M.spearman([1, 2, 3, 4], [1, 10, 100, 1000]) == pytest.approx(1.0)  # monotone is enough


def test_rmse_and_linear_mapping():
    assert M.rmse([0, 0], [3, 4]) == pytest.approx(math.sqrt(12.5))
    assert list(M.to_scale([0, 50, 100], 0, 10)) == [0, 5, 10]
    assert list(M.to_scale([50], 1, 5)) == [3]


def test_quadratic_weighted_kappa_by_hand():
    assert M.quadratic_weighted_kappa([0, 1, 2], [0, 1, 2]) == pytest.approx(1.0)
    # categories 0..2, weights (i-j)^2/4; observed disagreement 0.25 + 0.25, expected 1/3 * 3 = 1 -> 0.5
    assert M.quadratic_weighted_kappa([0, 1, 2], [0, 2, 1]) == pytest.approx(0.5)
    assert M.quadratic_weighted_kappa([0, 2, 4, 1], [4, 2, 0, 3], 0, 4) < 0  # systematically reversed


def test_within_one_and_exact_on_rounded_scores():
    assert M.within([0, 2, 5], [1, 2, 3]) == pytest.approx(2 / 3)
    assert M.exact([0.4, 2.6], [0, 3]) == 1.0


def test_length_partial_and_per_question_r():
    human = [1, 2, 3, 4, 5, 6]
    lengths = [10, 20, 30, 40, 50, 60]
    # a grader that follows the human score perfectly has no length effect left once the score is fixed
    assert math.isnan(M.partial_r(human, lengths, human)) or abs(M.partial_r(human, lengths, human)) < 1e-9
    r, groups = M.per_group_mean_r(list("aaabbb"), [1, 2, 3, 3, 2, 1], [1, 2, 3, 1, 2, 3])
    assert groups == 2 and r == pytest.approx(0.0)  # +1 in a, -1 in b


# ---------------------------------------------------------------- isotonic calibration


def test_pool_adjacent_violators_by_hand():
    x, y = fit_isotonic([1, 2, 3, 4], [1, 3, 2, 4])
    assert list(x) == [1, 2, 3, 4] and list(y) == [1, 2.5, 2.5, 4]
    x, y = fit_isotonic([5, 5, 1], [4, 0, 3])  # tied x share one value; then 3 > 2 is pooled
    assert list(x) == [1, 5] and list(y) == [pytest.approx(7 / 3)] * 2


def test_isotonic_fit_is_monotone_on_noisy_data():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 100, 300)
    y = x / 10 + rng.normal(0, 2, 300)
    kx, ky = fit_isotonic(x, y)
    assert np.all(np.diff(kx) > 0) and np.all(np.diff(ky) >= -1e-12)
    # least squares: never worse than the best constant
    assert np.mean((np.interp(x, kx, ky) - y) ** 2) <= np.var(y)


def test_folds_keep_each_question_together():
    groups = [f"q{i % 7}" for i in range(40)]
    folds = group_folds(groups, 3)
    for g in set(groups):
        assert len({f for f, h in zip(folds, groups, strict=True) if h == g}) == 1
    assert set(folds) == {0, 1, 2}
    with pytest.raises(ValueError, match="only 7 questions"):
        group_folds(groups, 8)


def test_cross_validated_predictions_are_held_out():
    # question "b" alone says a score of 90 means 0; trained without it, the map cannot know that
    x = [10, 20, 90, 10, 20, 90, 90, 90]
    y = [1, 2, 9, 1, 2, 9, 0, 0]
    groups = ["a", "a", "a", "c", "c", "c", "b", "b"]
    predicted, folds = cross_validate(x, y, groups, 3)
    assert folds[6] == folds[7]
    assert list(predicted[6:]) == [9, 9]


def test_calibration_map_round_trip_and_pack_lookup(tmp_path):
    cmap = CalibrationMap.fit([0, 50, 100], [0, 8, 10], grader="keyword", scale_min=0, scale_max=10)
    assert cmap.overall(50) == 80 and cmap.overall(25) == 40 and cmap.overall(100) == 100
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "q.yaml").write_text(
        "card: 101\nid: readiness\nquestion: What is a readiness probe for?\nreference_answer: >-\n"
        "  A readiness probe tells Kubernetes when a pod can take traffic. Without it, requests reach a model\n"
        "  server that is still loading weights, so users see errors.\n"
    )
    cmap.save(pack / "calibration.json")
    assert CalibrationMap.load(pack / "calibration.json") == cmap
    bank = QuestionBank.load([pack], include_builtin=False)  # the loader ignores the JSON file
    question = bank.get("readiness")
    answer = "A readiness probe tells Kubernetes when the pod can take traffic, so requests wait for the model."
    raw = KeywordGrader().grade(question, bank.rubric, answer)
    calibrated = CalibratedGrader(KeywordGrader()).grade(question, bank.rubric, answer)
    assert calibrated.overall == cmap.overall(raw.overall)
    assert calibrated.decided_by == "keyword (calibrated)" and calibrated.dimensions == raw.dimensions


# ---------------------------------------------------------------- probes


def test_probe_texts():
    assert padded("Short.").startswith("Short. ") and len(padded("Short.")) > 200
    listed = term_list("The scheduler reserves requests; the kubelet enforces limits at runtime.")
    assert listed == "scheduler, reserves, requests, kubelet, enforces, limits, runtime."


def test_probe_signs_on_a_tiny_set():
    bank = QuestionBank.load()
    card = bank.get(7)
    answers = [
        (
            "A Job is for finite batch work like preprocessing or a training run: it runs pods until they complete "
            "and retries failures. A Deployment keeps a desired number of replicas running for an inference API."
        ),
        (
            "Use a Job when the work should finish, because it runs to completion, and a Deployment for a service "
            "that must stay up with rolling updates."
        ),
    ]
    grader = KeywordGrader()
    rows = [(card, card.reference_text, a, float(grader.grade(card, bank.rubric, a).overall)) for a in answers]
    report = run_probes(rows, lambda q, text: float(grader.grade(q, bank.rubric, text).overall))
    assert report["padded"]["mean_change"] <= 0
    assert report["term_list"]["mean_change"] < 0 and report["term_list"]["mean_change_vs_reference"] < 0
    assert report["injected"]["max_change"] <= 0


# ---------------------------------------------------------------- eval end to end


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def small_set(tmp_path: Path) -> Path:
    rows = []
    with LABELLED.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["card"] in ("6", "7", "9", "14"):
                rows.append(row)
    return write_csv(tmp_path / "small.csv", rows)


def run(*args, env=None):
    return CliRunner().invoke(main, ["eval", *map(str, args)], env=env)


@pytest.mark.slow
def test_eval_json_has_the_documented_keys(tmp_path):
    result = run(small_set(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"pearson", "spearman", "rmse", "qwk", "within_1", "length_r", "n"} <= set(data)
    assert data["n"] == 12 and data["scale"] == {"min": 0.0, "max": 10.0} and data["ungraded"] == 0
    assert data["pearson"] > 0.3 and data["decided_by"] == {"keyword": 12}
    assert set(data["dimensions"]) == set(DIMENSIONS)
    assert data["per_question_r"] is not None and data["per_question_groups"] == 4


@pytest.mark.slow
def test_eval_text_calibrate_save_probes(tmp_path):
    saved = tmp_path / "calibration.json"
    result = run(small_set(tmp_path), "--calibrate", "2", "--save-calibration", saved, "--probes", "--cards")
    assert result.exit_code == 0, result.output
    for words in (
        "pearson",
        "per dimension",
        "held-out",
        "probes",
        "padded",
        "term_list",
        "injected",
        "s per 1,000 answers",
        "rows graded against full bank cards: 12",
    ):
        assert words in result.output
    cmap = CalibrationMap.load(saved)
    assert cmap.grader == "keyword" and cmap.n == 12 and cmap.heldout["n"] == 12


def test_eval_any_csv_of_the_minimal_shape(tmp_path):
    rows = [
        {
            "question": "What does a load balancer do?",
            "reference_answer": "It spreads requests across servers so "
            "no single server is overloaded. Health checks remove failed servers from the pool.",
            "answer": a,
            "score": s,
        }
        for a, s in [
            ("It spreads incoming requests across many servers, so no single server gets overloaded.", 4),
            ("It spreads requests across servers and uses health checks to drop failed servers.", 5),
            ("It is a kind of network thing.", 1),
            ("Load balancers are used in networking.", 0),
        ]
    ]
    result = run(write_csv(tmp_path / "lb.csv", rows), "--json", "--samples", "2")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["scale"] == {"min": 0.0, "max": 5.0}  # no max_score column: the observed range
    assert data["consistency"]["exact_agreement_answers"] == 1.0  # the keyword grader is deterministic


def test_eval_reports_bad_files_in_one_line(tmp_path):
    bad = write_csv(tmp_path / "bad.csv", [{"question": "q", "answer": "a", "score": "1"}])
    result = run(bad)
    assert result.exit_code == 2 and "missing column(s): reference_answer" in result.output
    worse = write_csv(
        tmp_path / "worse.csv", [{"question": "q", "reference_answer": "r", "answer": "a", "score": "high"}]
    )
    result = run(worse)
    assert result.exit_code == 2 and "line 2: score: 'high' is not a number" in result.output


def test_llm_grader_needs_a_model(tmp_path, monkeypatch):
    monkeypatch.delenv("INFRALENS_LLM_MODEL", raising=False)
    result = run(small_set(tmp_path), "--grader", "llm")
    assert result.exit_code == 2 and "no LLM is configured" in result.output


@pytest.mark.slow
def test_eval_with_the_llm_grader_over_http(tmp_path, monkeypatch):
    """The real chain and litellm against the fake server: scores, decided_by and sample agreement."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")
    monkeypatch.setenv("INFRALENS_HOME", str(tmp_path / "home"))
    rows = []
    with LABELLED.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["card"] == "7"]
    path = write_csv(tmp_path / "card7.csv", rows)

    def reply(answer: str, score: int) -> Reply:
        quote = answer.split(".")[0]
        dims = [
            {"id": d, "score": score if quote else 0, "evidence": [quote], "missing": [], "feedback": f"{d}: ok"}
            for d in DIMENSIONS
        ]
        return Reply.content(
            json.dumps({"dimensions": dims, "misconceptions": [], "follow_up": "Why?", "summary": "Fine."})
        )

    human = {r["answer"]: int(r["score"]) for r in rows}
    with FakeOpenAI() as server:
        for r in rows:  # two samples per answer; the first answer's samples disagree
            first = min(4, round(human[r["answer"]] / 2.5))
            server.enqueue(reply(r["answer"], first), reply(r["answer"], first if r is not rows[0] else 4 - first))
        result = run(
            path,
            "--grader",
            "llm",
            "--model",
            "openai/grader",
            "--cards",
            "--json",
            "--samples",
            "2",
            env={"INFRALENS_LLM_API_BASE": server.url},
        )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["decided_by"] == {"llm:openai/grader": 3} and data["ungraded"] == 0
    assert data["spearman"] == pytest.approx(1.0)
    assert data["consistency"]["exact_agreement_answers"] == pytest.approx(2 / 3, abs=1e-3)
    assert len(server.requests) == 6


# ---------------------------------------------------------------- the shipped labelled set


@pytest.mark.slow
def test_labelled_set_is_complete_and_graded_in_both_modes():
    rows = load_rows(LABELLED)
    assert len(rows) >= 60 and len({r.question_id for r in rows}) == 20
    assert all(set(r.labels) == set(DIMENSIONS) for r in rows)
    bank = QuestionBank.load()
    for questions in (RowQuestions(), RowQuestions(bank)):
        report, _ = evaluate(rows, KeywordGrader(), load_rubric(), questions)
        assert report["n"] == len(rows) and report["pearson"] > 0.5


def test_an_injection_that_repeats_the_reference_terms_does_not_raise_the_keyword_score():
    from infralens_coach.evaluation.probes import injected

    bank = QuestionBank.load()
    card = bank.get(7)
    answer = "Use a Job for batch work and a Deployment for a service."
    grader = KeywordGrader()
    before = grader.grade(card, bank.rubric, answer).overall
    after = grader.grade(card, bank.rubric, injected(answer, card.reference_text, 3)).overall
    assert after <= before


# ---------------------------------------------------------------- bad scores, too few rows, honest counts


def lb_rows(scores) -> list[dict]:
    answers = [
        "It spreads incoming requests across many servers, so no single server gets overloaded.",
        "It spreads requests across servers and uses health checks to drop failed servers.",
        "It is a kind of network thing.",
        "Load balancers are used in networking.",
    ]
    return [
        {
            "question": "What does a load balancer do?",
            "reference_answer": "It spreads requests across servers so "
            "no single server is overloaded. Health checks remove failed servers from the pool.",
            "answer": a,
            "score": s,
        }
        for a, s in zip(answers, scores, strict=False)
    ]


@pytest.mark.parametrize("bad", ["inf", "-inf", "nan", "NaN", "1e999"])
def test_a_non_finite_score_is_refused_naming_the_row(tmp_path, bad):
    path = write_csv(tmp_path / "bad.csv", lb_rows([4, bad, 1, 0]))
    result = run(path)
    assert result.exit_code == 2, result.output
    assert f"line 3: score: {bad!r} is not a finite number" in result.output
    assert isinstance(result.exception, SystemExit)  # a user error, not an OverflowError
    labelled = write_csv(tmp_path / "label.csv", [r | {"mechanism": "nan"} for r in lb_rows([4, 5, 1, 0])])
    assert "line 2: mechanism: 'nan' is not a finite number" in run(labelled).output


def test_one_row_says_at_least_two_are_needed(tmp_path):
    result = run(write_csv(tmp_path / "one.csv", lb_rows([4])))
    assert result.exit_code == 2
    assert "1 row to evaluate: at least 2 rows are needed" in result.output


@pytest.mark.slow
def test_the_text_report_counts_who_actually_decided(tmp_path, monkeypatch):
    """The LLM grader under test fell back to keyword on every row: the report must say so, not 'graded by llm'."""
    monkeypatch.setenv("INFRALENS_HOME", str(tmp_path / "home"))
    path = write_csv(tmp_path / "lb.csv", lb_rows([4, 5, 1]))
    with FakeOpenAI() as server:
        server.enqueue(*[Reply.content("I cannot grade this.")] * 3)
        result = run(
            path,
            "--grader",
            "auto",
            "--model",
            "openai/grader",
            env={"INFRALENS_LLM_API_BASE": server.url, "OPENAI_API_KEY": "sk-test-not-a-secret"},
        )
    assert result.exit_code == 0, result.output
    head = result.stdout.splitlines()[0]
    assert "3 of 3 rows graded" in head and "decided by keyword 3" in head, head
    assert "graded by llm" not in head
    assert "fell back to keyword on 3 rows" in result.stdout


def test_llm_failure_with_json_prints_a_json_error(tmp_path, monkeypatch):
    monkeypatch.setenv("INFRALENS_HOME", str(tmp_path / "home"))
    path = write_csv(tmp_path / "lb.csv", lb_rows([4, 5, 1]))
    result = run(
        path,
        "--grader",
        "llm",
        "--model",
        "openai/grader",
        "--json",
        env={
            "INFRALENS_LLM_API_BASE": "http://127.0.0.1:9/v1",
            "INFRALENS_LLM_TIMEOUT_S": "1",
            "OPENAI_API_KEY": "sk-test-not-a-secret",
        },
    )
    assert result.exit_code == 2
    error = json.loads(result.stdout)
    assert set(error) == {"error", "type"} and error["type"] == "GraderUnavailable"
    assert "only 0 of 3 rows could be graded" in error["error"] and "cannot reach the LLM server" in error["error"]
    no_model = run(path, "--grader", "llm", "--json", env={"INFRALENS_LLM_MODEL": ""})
    assert no_model.exit_code == 2 and "no LLM is configured" in json.loads(no_model.stdout)["error"]
    bad_file = run(write_csv(tmp_path / "one.csv", lb_rows([4])), "--json")
    assert bad_file.exit_code == 2 and json.loads(bad_file.stdout)["type"] == "ContentError"


# ---------------------------------------------------------------- the sets the grader was not written for


EVAL_DIR = LABELLED.parent


def test_generalization_sets_have_tune_and_heldout_splits():
    for split in ("tune", "heldout"):
        rows = load_rows(EVAL_DIR / f"cs-{split}.csv")
        assert len({r.question_id for r in rows}) >= 20 and {r.max_score for r in rows} == {5.0}
        with (EVAL_DIR / f"paraphrase-{split}.csv").open(encoding="utf-8") as f:
            para = list(csv.DictReader(f))
        assert len({r["card"] for r in para}) == 10
        assert {r["kind"] for r in para} == {"full", "partial", "off-topic", "stuffed", "misconception"}
        assert all(set(filter(None, r["covers"].split(";"))) <= set(DIMENSIONS) for r in para)
    tune = {r.question_id for r in load_rows(EVAL_DIR / "cs-tune.csv")}
    assert not tune & {r.question_id for r in load_rows(EVAL_DIR / "cs-heldout.csv")}


@pytest.mark.slow
def test_reference_only_short_answers_track_the_human_scores_on_the_heldout_split():
    """The figure eval/README.md reports (the pre-issue-13 grader: 0.27, every answer scored 0 or 100)."""
    result = run(EVAL_DIR / "cs-heldout.csv", "--grader", "keyword", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["n"] == 140 and data["decided_by"] == {"keyword": 140}
    assert data["pearson"] > 0.5
