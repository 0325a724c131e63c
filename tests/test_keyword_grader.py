"""The keyword grader on answers we wrote ourselves (tests/answers/card_XX.yaml), per card.

Targets (issue 2): full > mechanism-and-why-only > off-topic; a bare term list < mechanism-and-why-only;
padding moves a score by <= 5 points; speech-recognition garbling keeps >= 85 % of the clean score;
an asserted misconception is reported; the dimensions an answer leaves out score <= 1.
"""

from pathlib import Path

import pytest
import yaml

from infralens_coach.content import QuestionBank
from infralens_coach.grading import KeywordGrader

# Every probe runs on every card's answer set in the full suite; the fast tier keeps two cards of different
# kinds (each grade runs the sentence-embedding model, ~0.3 s on these cores).
FAST_CARDS = {"card_01", "card_07"}
ANSWER_FILES = sorted((Path(__file__).parent / "answers").glob("card_*.yaml"))
ANSWERS = [pytest.param(p, id=p.stem, marks=() if p.stem in FAST_CARDS else pytest.mark.slow) for p in ANSWER_FILES]
PADDING_BEFORE = "That is a really good question. Let me think about it for a second. "
PADDING_AFTER = (
    " I hope that makes sense. Yeah, that is basically how I would think about it. "
    "I have seen this come up a lot in practice. Anyway, that is my answer."
)
LEFT_OUT_BY_MECHANISM_WHY = ("tradeoffs", "common_mistake", "related_lab")


@pytest.fixture(scope="module")
def bank() -> QuestionBank:
    return QuestionBank.load()


def _load(path: Path) -> tuple[int, dict[str, str]]:
    data = yaml.safe_load(path.read_text())
    return data["card"], data["answers"]


def _grade(bank, card, text):
    return KeywordGrader().grade(bank.get(card), bank.rubric, text)


def test_answer_sets_cover_at_least_eight_cards():
    assert len(ANSWER_FILES) >= 8


@pytest.mark.slow
@pytest.mark.parametrize("path", ANSWERS)
def test_answer_quality_ordering(bank, path):
    card, answers = _load(path)
    full = _grade(bank, card, answers["full"]).overall
    mech = _grade(bank, card, answers["mechanism_why"]).overall
    off = _grade(bank, card, answers["off_topic"]).overall
    terms = _grade(bank, card, answers["term_list"]).overall
    assert full > mech > off, (full, mech, off)
    assert terms < mech, (terms, mech)


@pytest.mark.parametrize("path", ANSWERS)
def test_padding_does_not_move_the_score(bank, path):
    card, answers = _load(path)
    for kind in ("full", "mechanism_why"):
        plain = _grade(bank, card, answers[kind]).overall
        padded = _grade(bank, card, PADDING_BEFORE + answers[kind] + PADDING_AFTER).overall
        assert abs(padded - plain) <= 5, (kind, plain, padded)


@pytest.mark.parametrize("path", ANSWERS)
def test_garbled_transcript_keeps_most_of_the_score(bank, path):
    card, answers = _load(path)
    clean = _grade(bank, card, answers["full"]).overall
    garbled = _grade(bank, card, answers["garbled"]).overall
    assert garbled >= 0.85 * clean, (clean, garbled)


@pytest.mark.parametrize("path", ANSWERS)
def test_asserted_misconception_is_reported_and_a_warning_is_not(bank, path):
    card, answers = _load(path)
    wrong = _grade(bank, card, answers["misconception"])
    assert wrong.misconceptions, "the asserted misconception was not reported"
    assert wrong.dimension("common_mistake").score == 0
    assert not _grade(bank, card, answers["full"]).misconceptions


@pytest.mark.parametrize("path", ANSWERS)
def test_dimensions_left_out_score_at_most_one(bank, path):
    card, answers = _load(path)
    grade = _grade(bank, card, answers["mechanism_why"])
    for dim in LEFT_OUT_BY_MECHANISM_WHY:
        assert grade.dimension(dim).score <= 1, (dim, grade.dimension(dim))
    assert grade.dimension("mechanism").score >= 2
    assert grade.dimension("why_it_matters").score >= 1


@pytest.mark.parametrize("path", ANSWERS)
def test_evidence_quotes_are_verbatim_sentences_of_the_answer(bank, path):
    card, answers = _load(path)
    grade = _grade(bank, card, answers["full"])
    quotes = [q for d in grade.dimensions for q in d.evidence]
    assert quotes
    for quote in quotes:
        assert quote in answers["full"]


def test_grading_is_deterministic(bank):
    card, answers = _load(ANSWER_FILES[0])
    first = _grade(bank, card, answers["full"]).to_json()
    assert all(_grade(bank, card, answers["full"]).to_json() == first for _ in range(3))


# Stuffing that reads as prose (issue 13): the card's vocabulary as noun phrases of up to four words, glued with
# commas or "and" inside a short shell ("... are what make it different"). Written for this test, not from eval/.
STUFFED = {
    9: "Schema checks, missing values, feature histograms, prediction drift, delayed labels, population stability "
    "index and reference windows are the whole story of drift monitoring.",
    20: "The KV cache and continuous batching and time to first token and tokens per second and paged attention "
    "and vLLM are what make LLM serving its own thing.",
}


@pytest.mark.parametrize("card", sorted(STUFFED))
def test_a_term_list_in_a_prose_shell_earns_half_a_point_at_most(bank, card):
    """Naming a point in a list is not making it: the list earns part of one point, never a point made."""
    from infralens_coach.grading.sentences import is_enumeration
    from infralens_coach.grading.text import split_spans

    [span] = split_spans(STUFFED[card])
    assert is_enumeration(span)
    grade = _grade(bank, card, STUFFED[card])
    assert sum(len(d.covered) for d in grade.dimensions) == 0, [d.covered for d in grade.dimensions]
    assert grade.overall <= 10, grade.overall


# Shells that only say terms matter (written for this test, not from eval/): a sentence each, nothing explained.
EMPTY_CLAIMS = {
    6: "Requests and limits are really important for ML pods. Scheduling and reservations are key. Throttling and "
    "OOM kills matter a lot. GPU memory and shared memory are both things to think about. Noisy neighbours are a "
    "concern too. Don't forget topology and the device plugin either.",
    13: "SLOs and error budgets are crucial. Burn rate and symptoms are key. Alert fatigue and paging are a big "
    "thing. Latency, error rate and user impact all come into play here. Owners and runbooks are essential too.",
}


@pytest.mark.parametrize("card", sorted(EMPTY_CLAIMS))
def test_sentences_that_only_say_terms_matter_earn_nothing(bank, card):
    from infralens_coach.grading.sentences import is_empty_claim
    from infralens_coach.grading.text import split_spans

    assert all(is_empty_claim(span) for span in split_spans(EMPTY_CLAIMS[card]))
    grade = _grade(bank, card, EMPTY_CLAIMS[card])
    assert grade.overall == 0, [(d.dimension, d.evidence) for d in grade.dimensions]


@pytest.mark.parametrize(
    "sentence",
    [
        "Latency matters because users wait for every token.",
        "Cost is a big one too, because GPU utilisation is often low.",
        "The host driver is key to GPU access.",
        "Data versioning matters when you need to reproduce a model.",
        "Monitoring drift is important since labels arrive late.",
    ],
)
def test_the_same_words_with_a_reason_or_a_relation_still_explain(sentence):
    from infralens_coach.grading.sentences import is_empty_claim
    from infralens_coach.grading.text import split_spans

    [span] = split_spans(sentence)
    assert not is_empty_claim(span)


def test_a_hyphenated_term_is_not_a_reason():
    from infralens_coach.grading.sentences import is_empty_claim
    from infralens_coach.grading.text import split_spans

    [span] = split_spans("Token-by-token generation and KV cache growth are key.")  # "by" inside a term
    assert is_empty_claim(span)
