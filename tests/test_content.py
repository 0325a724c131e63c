"""The bank loads whole; broken packs are refused with file, field and problem named."""

import json
import re
import textwrap
from pathlib import Path

import pytest

from infralens_coach.content import DIMENSIONS, GROUPS, QuestionBank, load_rubric
from infralens_coach.errors import ContentError, UnknownQuestionError
from infralens_coach.grading.derive import points_of

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "infralens-interview-practice.txt"


@pytest.fixture(scope="module")
def bank():
    return QuestionBank.load()


def test_all_twenty_cards_load_with_every_dimension(bank):
    assert [q.card for q in bank.questions] == list(range(1, 21))
    for q in bank.questions:
        assert q.group in GROUPS
        assert q.module and q.related_lab and q.sources and q.vocabulary
        assert q.short_answer and q.deeper_explanation and q.common_mistake
        for dim in DIMENSIONS:
            assert len(q.points[dim]) >= 2, (q.card, dim)
        assert q.misconceptions
        assert not q.derived


def test_every_group_is_used(bank):
    assert {q.group for q in bank.questions} == set(GROUPS)


def test_the_two_seed_tables_are_structured(bank):
    with_tables = {q.card: q.tables for q in bank.questions if q.tables}
    assert sorted(with_tables) == [16, 20]
    assert [row[0] for row in with_tables[16][0].rows] == ["Shadow traffic", "Canary rollout", "A/B testing"]
    assert [row[0] for row in with_tables[20][0].rows] == ["Prefill", "Decode"]


def _seed_text(card: int, heading: str) -> str:
    """The seed's own paragraph under `heading` for `card`."""
    text = SEED.read_text()
    start = re.search(rf"^{card:02d}\S", text, re.M).start()
    nxt = re.search(rf"^{card + 1:02d}\S", text, re.M) if card < 20 else re.search(r"^Review$", text, re.M)
    block = text[start : nxt.start()]
    after = block.split(f"\n{heading}\n", 1)[1].lstrip("\n")
    return after.split("\n", 1)[0].strip()


@pytest.mark.skipif(not SEED.exists(), reason="the seed lives beside the repo in shared/")
def test_seed_wording_is_kept_verbatim(bank):
    for q in bank.questions:
        assert " ".join(q.short_answer.split()) == _seed_text(q.card, "Short Answer"), q.card
        assert " ".join(q.deeper_explanation.split()) == _seed_text(q.card, "Deeper Explanation"), q.card
        assert " ".join(q.common_mistake.split()) == _seed_text(q.card, "Common Mistake"), q.card


def test_lookup_by_number_padded_number_and_id(bank):
    assert bank.get("7").id == bank.get("07").id == bank.get(7).id
    assert bank.get(bank.get(7).id).card == 7
    with pytest.raises(UnknownQuestionError, match="unknown card '99'"):
        bank.get("99")


def test_rubric_has_five_dimensions_with_levels():
    rubric = load_rubric()
    assert [d.id for d in rubric.dimensions] == list(DIMENSIONS)
    assert all(sorted(d.levels) == [0, 1, 2, 3, 4] for d in rubric.dimensions)


# ------------------------------------------------------------- broken packs

GOOD = """\
card: 101
id: my-question
question: What is a readiness probe for?
reference_answer: >-
  A readiness probe tells Kubernetes when a pod can take traffic. Without it, requests reach a model server
  that is still loading weights, so users see errors. A common mistake is to use the liveness probe for this.
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    pack = tmp_path / "pack"
    pack.mkdir(exist_ok=True)
    (pack / name).write_text(textwrap.dedent(text))
    return pack


def test_minimal_pack_question_gets_derived_points(tmp_path):
    bank = QuestionBank.load([write(tmp_path, "q.yaml", GOOD)])
    q = bank.get("my-question")
    assert q.derived and points_of(q)["mechanism"] and points_of(q)["common_mistake"]


FULL_POINTS = "\n".join(
    f"  {d}:\n    - id: p-{d}\n      text: something\n      phrases: [something here]" for d in DIMENSIONS
)


@pytest.mark.parametrize(
    "content, field, problem",
    [
        ("card: 101\nid: x\nquestion: [unclosed\n", "YAML syntax error at line", ""),
        ("card: 101\nid: x\n", "question", "required field is missing"),
        (GOOD + "colour: blue\n", "colour", "unknown field"),
        (GOOD.replace("id: my-question", "id: My Question"), "id", "slug"),
        ("card: 101\nid: x\nquestion: q?\n", "(file)", "needs either `points` or a reference answer"),
        (
            GOOD + "points:\n  delivery:\n    - {id: a, text: b, phrases: [c]}\n",
            "points",
            "unknown dimension 'delivery'",
        ),
        (GOOD + "points:\n  mechanism: []\n", "points", "dimension 'mechanism' has no points"),
        (GOOD + "weights: {tradeoffs: -1}\n", "weights", "negative"),
        (GOOD + "weights: {tradeoffs: lots}\n", "weights.tradeoffs", "valid number"),
        (GOOD + "group: vibes\n", "group", "unknown group 'vibes'"),
        (
            GOOD + "points:\n" + FULL_POINTS.replace("phrases: [something here]", "phrases: []", 1),
            "points.mechanism.0.phrases",
            "at least 1",
        ),
        (GOOD + "sources:\n  - {name: docs, url: not-a-url}\n", "sources.0.url", "pattern"),
        ("- just\n- a list\n", "(file)", "expected a mapping"),
        (
            GOOD + "misconceptions:\n  - {id: m, text: wrong, phrases: [wrong], claims: ['  ']}\n",
            "misconceptions.0.claims",
            "empty claim",
        ),
    ],
    ids=[
        "yaml",
        "missing",
        "unknown-field",
        "bad-id",
        "no-reference",
        "unknown-dim",
        "empty-dim",
        "neg-weight",
        "bad-weight",
        "bad-group",
        "no-phrases",
        "bad-url",
        "not-mapping",
        "blank-claim",
    ],
)
def test_broken_files_name_file_field_and_problem(tmp_path, content, field, problem):
    pack = write(tmp_path, "broken.yaml", content)
    with pytest.raises(ContentError) as err:
        QuestionBank.load([pack])
    message = str(err.value)
    assert f"{pack / 'broken.yaml'}: {field}" in message, message
    assert problem in message, message


def test_duplicate_card_numbers_and_ids_across_files(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    pack = write(tmp_path, "b.yaml", GOOD)
    with pytest.raises(ContentError) as err:
        QuestionBank.load([pack], include_builtin=False)
    message = str(err.value)
    assert "b.yaml: card: duplicate card number 101 (also in" in message
    assert "b.yaml: id: duplicate id 'my-question'" in message


def test_pack_clashing_with_the_builtin_bank(tmp_path):
    pack = write(tmp_path, "clash.yaml", GOOD.replace("card: 101", "card: 7"))
    with pytest.raises(ContentError, match="card: duplicate card number 7"):
        QuestionBank.load([pack])


def test_every_problem_is_reported_at_once(tmp_path):
    write(tmp_path, "a.yaml", "card: 1\n")
    pack = write(tmp_path, "b.yaml", "id: [\n")
    with pytest.raises(ContentError) as err:
        QuestionBank.load([pack], include_builtin=False)
    assert "a.yaml" in str(err.value) and "b.yaml" in str(err.value)


def test_questions_json_is_serialisable(bank):
    payload = json.dumps([q.model_dump(mode="json") for q in bank.questions])
    assert "mechanism" in payload
