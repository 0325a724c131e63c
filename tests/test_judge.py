"""The misconception judge (grading/judge.py): a learned second opinion that reads the whole answer. It overrules a
match by meaning alone on a full answer that warns against the mistake, reports a mistake the rules miss, and is
exactly what evaluation/train_judge.py makes from eval/'s tune splits."""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from infralens_coach.content import QuestionBank
from infralens_coach.evaluation import train_judge
from infralens_coach.grading import KeywordGrader
from infralens_coach.grading.judge import Judge, shipped

REPO = Path(__file__).resolve().parent.parent
TUNE = {
    row["id"]: row
    for name in ("misconception-tune2.csv", "misconception-tune3.csv", "misconception-tune4.csv")
    for row in csv.DictReader((REPO / "eval" / name).open(encoding="utf-8"))
}


@pytest.fixture(scope="module")
def bank() -> QuestionBank:
    return QuestionBank.load()


def rules_alone() -> KeywordGrader:
    """The grader with a judge that confirms every match and reports nothing itself: the rules decide alone."""
    judge = shipped()
    return KeywordGrader(judge=Judge(judge.weights, judge.bias, judge.mean, judge.scale, -math.inf, math.inf))


def grade(bank, row_id, grader=None):
    row = TUNE[row_id]
    return (grader or KeywordGrader()).grade(bank.get(int(row["card"])), bank.rubric, row["answer"])


@pytest.mark.parametrize(
    "row_id",
    [
        "md16d",  # a full answer on safe deployment with a war story of a model shipped on offline numbers alone
        "md20d",  # a full answer on LLM serving that names the naive fixed-shape approach to reject it
    ],
)
def test_a_full_answer_that_warns_is_not_flagged_by_meaning_alone(bank, row_id):
    assert grade(bank, row_id, rules_alone()).misconceptions  # the rules alone flag it
    assert not grade(bank, row_id).misconceptions


@pytest.mark.parametrize(
    "row_id",
    [
        "mt4_18b",  # one Terraform state, hand fixes committed to main, reviews "enterprise overhead"
        "mu13c",  # "alerts are, uh, basically just limits on all your graphs, so anything goes red, someone gets paged"
    ],
)
def test_the_judge_reports_a_mistake_the_rules_miss_and_its_sentence_earns_nothing(bank, row_id):
    assert not grade(bank, row_id, rules_alone()).misconceptions
    graded = grade(bank, row_id)
    assert graded.misconceptions
    evidence = graded.misconceptions[0].evidence
    assert evidence in TUNE[row_id]["answer"]
    assert all(evidence not in d.evidence for d in graded.dimensions)
    assert graded.dimension("common_mistake").score == 0


def test_without_the_model_the_rules_decide_alone(bank):
    assert grade(bank, "mt4_18b").misconceptions  # the judge reports it when the model runs...
    wording_only = grade(bank, "mt4_18b", KeywordGrader(meaning=False))
    assert not wording_only.misconceptions  # ...and there is no judge without it
    assert wording_only.summary and wording_only.summary.startswith("Matched on wording only")


def test_a_judge_file_for_other_features_is_refused():
    data = shipped().to_json()
    data["features"] = data["features"][:-1]
    with pytest.raises(ValueError, match="infralens-judge/1"):
        Judge.from_json(data)


@pytest.mark.slow
def test_the_shipped_judge_is_what_the_trainer_makes_from_the_tune_splits(bank):
    found = train_judge.examples([train_judge.EVAL / name for name in train_judge.TUNE], KeywordGrader(), bank)
    assert {"misconception-tune3.csv", "misconception-blind.csv"} & set(train_judge.TUNE) == {"misconception-tune3.csv"}
    scores = train_judge.cross_validated(found)
    confirm = train_judge.choose_confirm(found, scores)
    trained = Judge(*train_judge.fit(found), confirm=confirm, report=train_judge.choose_report(found, scores, confirm))
    on_disk = json.loads(train_judge.JUDGE_JSON.read_text(encoding="utf-8"))
    made = trained.to_json()
    assert made["features"] == on_disk["features"]
    for key in ("weights", "bias", "mean", "scale", "confirm", "report"):
        np.testing.assert_allclose(made[key], on_disk[key], rtol=1e-3, atol=1e-3)  # across CPUs


@pytest.mark.parametrize(
    "card, held",
    [
        (16, "If offline AUC goes up we ship to everyone; canaries are somebody else's concern."),
        (12, "I'd run the real-time inference service on spot; the fallback pool isn't really needed."),
    ],
)
def test_a_plan_and_a_brushed_aside_practice_are_reported(bank, card, held):
    assert not rules_alone().grade(bank.get(card), bank.rubric, held).misconceptions
    assert KeywordGrader().grade(bank.get(card), bank.rubric, held).misconceptions


@pytest.mark.parametrize(
    "card, correct",
    [
        # the rules clear these sentences (a dismissal aimed at the mistake, a warning after the semicolon, a
        # question, a list); the judge may not quote them
        (13, "Paging on every CPU spike adds little; page on SLO burn rate instead."),
        (11, "The final accuracy alone isn't the point; you need the config, data version and curves."),
        (18, "Manual console fixes aren't the point of IaC; every change goes through review and plan."),
        (19, "Was it a CUDA out of memory error on the GPU? Then see what held the memory before touching the batch."),
    ],
)
def test_the_judge_does_not_quote_a_sentence_the_rules_clear(bank, card, correct):
    assert not KeywordGrader().grade(bank.get(card), bank.rubric, correct).misconceptions
