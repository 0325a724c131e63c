"""Phrase matching and the grader's rules on a small hand-built card (independent of the bank)."""

import pytest

from infralens_coach.content import Question, load_rubric
from infralens_coach.errors import AnswerError
from infralens_coach.grading import KeywordGrader
from infralens_coach.grading.text import compile_phrase, split_spans


def matches(phrase: str, text: str) -> bool:
    return any(compile_phrase(phrase).matches(span) for span in split_spans(text))


@pytest.mark.parametrize(
    "phrase, text",
    [
        ("all-reduce", "We overlap the all reduce with the backward pass."),
        ("all reduce", "We overlap the allreduce with the backward pass."),
        ("allreduce", "We overlap the All-Reduce with the backward pass."),
        ("kv cache", "The KV-caches grow with every generated token."),
        ("ttft", "Users notice T T F T before anything else."),
        ("time to first token", "Users notice the time-to-first-token first."),
        ("job & completion", "A Job runs until it completes."),
        ("gpu", "We had eight GPUs on the node."),
        ("8 gpus", "We had eight GPUs on the node."),
        ("int8", "Quantize the weights to INT 8."),
        ("utilization", "GPU utilisation stayed low."),
        ("checkpoint", "Check-pointing long jobs lets them survive preemption."),
        ("do not", "Don't page on every metric."),
        ("data loader", "The dataloader was the bottleneck."),
    ],
)
def test_tolerant_matches(phrase, text):
    assert matches(phrase, text)


@pytest.mark.parametrize(
    "phrase, text",
    [
        ("slo", "The training job was slow."),
        ("job & completion", "A Job was created. It completes later."),  # parts must share a sentence
        ("gpu", "The CPU was busy."),
        ("cache", "We cached nothing"[:0] + "Encache is not a word we use."),
    ],
)
def test_strict_non_matches(phrase, text):
    assert not matches(phrase, text)


CARD = Question.model_validate(
    {
        "card": 99,
        "id": "tiny",
        "question": "Why checkpoint long training jobs?",
        "short_answer": "So a preempted job resumes instead of restarting.",
        "points": {
            "mechanism": [
                {"id": "m1", "text": "Save model and optimizer state periodically.", "phrases": ["save & state"]},
                {"id": "m2", "text": "Resume from the latest checkpoint.", "phrases": ["resume & checkpoint"]},
                {"id": "m3", "text": "Store checkpoints durably.", "phrases": ["object storage"]},
            ],
            "why_it_matters": [
                {"id": "w1", "text": "Preemption loses little work.", "phrases": ["preempt & lose"]},
                {"id": "w2", "text": "Spot capacity becomes usable.", "phrases": ["spot"]},
            ],
            "tradeoffs": [{"id": "t1", "text": "Saving costs I/O time.", "phrases": ["checkpoint & slow"]}],
            "common_mistake": [
                {"id": "c1", "text": "Warn against no checkpoints on spot.", "phrases": ["mistake & spot & without"]}
            ],
            "related_lab": [{"id": "l1", "text": "Kill a job mid-run in a lab.", "phrases": ["lab & kill"]}],
        },
        "misconceptions": [
            {"id": "x1", "text": "Spot is fine without checkpoints.", "phrases": ["spot & without checkpoint"]}
        ],
    }
)
RUBRIC = load_rubric()


def grade(text):
    return KeywordGrader().grade(CARD, RUBRIC, text)


def test_evidence_is_the_sentence_and_missing_is_named():
    g = grade("We save the full training state every hour. Then the job can resume from the last checkpoint.")
    mech = g.dimension("mechanism")
    assert mech.evidence == (
        "We save the full training state every hour.",
        "Then the job can resume from the last checkpoint.",
    )
    assert mech.missing == ("Store checkpoints durably.",)
    assert mech.score == 3  # 2 of the 3 points needed for full marks


def test_bare_term_list_earns_nothing():
    g = grade("Save state, resume checkpoint, object storage, preempt, lose, spot, lab, kill.")
    assert g.overall == 0


def test_warning_is_credit_and_assertion_is_a_misconception():
    warned = grade("A common mistake is running on spot without checkpoints, because you lose the work.")
    assert not warned.misconceptions
    assert warned.dimension("common_mistake").score == 4
    asserted = grade("Honestly you can run on spot without checkpoints and it will be fine.")
    assert [m.id for m in asserted.misconceptions] == ["x1"]
    assert asserted.dimension("common_mistake").score == 0
    assert asserted.dimension("why_it_matters").score == 0  # the asserting sentence earns nothing


def test_empty_answer_is_a_user_error():
    with pytest.raises(AnswerError):
        grade("   ")


def test_a_negation_warns_only_in_its_own_clause():
    unrelated = grade("It is not hard at all, you simply run on spot without checkpoints and move on.")
    assert [m.id for m in unrelated.misconceptions] == ["x1"]
    negated = grade("Never run on spot without checkpoints for a long training job.")
    assert not negated.misconceptions


def test_a_warning_label_carries_to_the_next_sentence():
    g = grade("The classic mistake is about capacity. Running on spot without checkpoints loses days of work.")
    assert not g.misconceptions


def test_common_mistake_needs_a_warning_frame():
    from infralens_coach.content import Point

    point = Point(id="c2", text="Checkpoint before preemption.", phrases=("checkpoint & preemption",))
    card = CARD.model_copy(update={"points": {**CARD.points, "common_mistake": (point,)}, "misconceptions": ()})
    neutral = KeywordGrader().grade(card, RUBRIC, "We write a checkpoint before each preemption notice arrives.")
    assert neutral.dimension("common_mistake").score == 0
    framed = KeywordGrader().grade(card, RUBRIC, "People often forget to checkpoint before a preemption hits.")
    assert framed.dimension("common_mistake").score == 4


def test_a_fragment_earns_only_as_the_whole_of_a_short_answer():
    alone = grade("Resume checkpoint.").dimension("mechanism")
    assert "Resume from the latest checkpoint." in alone.covered
    within = grade(
        "We save the full training state every hour and keep it safe. Resume checkpoint. Then we go home."
    ).dimension("mechanism")
    assert "Resume from the latest checkpoint." in within.missing
    assert grade("Save state, resume checkpoint, object storage, preempt, lose, spot.").overall == 0  # still a list
