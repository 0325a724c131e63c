"""Progress on hand-built histories: score series, status, diff, the next-card schedule, the checklist."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from infralens_coach import progress
from infralens_coach.content import DIMENSIONS, QuestionBank
from infralens_coach.errors import HistoryError
from infralens_coach.history import HistoryStore, new_attempt

NOW = datetime(2025, 6, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def bank():
    return QuestionBank.load()


def make(bank, card, scores, *, days_ago=0.0, covered=None, misconceptions=(), ungraded=False):
    """An attempt on `card` with the given 0-4 score per dimension (in DIMENSIONS order), made days_ago."""
    question = bank.get(card)
    grade = {
        "question_id": question.id, "card": card, "decided_by": "keyword", "fallback_reason": None,
        "overall": round(100 * sum(scores) / (4 * len(scores))),
        "dimensions": [
            {"id": dim, "score": score, "max_score": 4, "evidence": [], "missing": [],
             "covered": list((covered or {}).get(dim, [])), "feedback": ""}
            for dim, score in zip(DIMENSIONS, scores, strict=True)
        ],
        "misconceptions": [{"id": f"m{i}", "text": text, "evidence": text} for i, text in enumerate(misconceptions)],
        "follow_up": None, "summary": None, "flags": [],
    }  # fmt: skip
    return new_attempt(
        question,
        bank.rubric,
        "an answer",
        grade=None if ungraded else grade,
        ungraded_reason="LLM timed out" if ungraded else None,
        now=NOW - timedelta(days=days_ago),
    )


def test_score_series_per_dimension_matches_the_store(bank, tmp_path):
    attempts = [
        make(bank, 7, [1, 0, 0, 0, 0], days_ago=3),
        make(bank, 2, [4] * 5, days_ago=2),
        make(bank, 7, [2, 1, 0, 0, 0], days_ago=2, ungraded=True),
        make(bank, 7, [3, 2, 1, 0, 0], days_ago=1),
    ]
    series = progress.score_series(attempts, 7)
    assert [score for _, score, _ in series["mechanism"]] == [1, 3]  # the ungraded one never counts
    assert [score for _, score, _ in series["why_it_matters"]] == [0, 2]
    with HistoryStore(tmp_path / "history.db") as store:
        for a in attempts:
            store.save(a)
        assert progress.score_series(store.list(), 7) == series


def test_status_not_yet_weak_solid(bank):
    assert progress.status([]) == "not yet"
    assert progress.status([make(bank, 1, [4] * 5, ungraded=True)]) == "not yet"
    assert progress.status([make(bank, 1, [4, 4, 4, 2, 4])]) == "weak"
    assert progress.status([make(bank, 1, [4, 2, 4, 2, 4]), make(bank, 1, [3, 3, 4, 3, 4])]) == "solid"
    assert progress.status([make(bank, 1, [4] * 5), make(bank, 1, [4, 1, 4, 4, 4])]) == "weak"  # the latest counts
    assert progress.status([make(bank, 1, [4] * 5, misconceptions=["Accuracy is all that matters"])]) == "weak"


def test_checklist_is_cards_one_to_eight_with_status(bank):
    attempts = [make(bank, 1, [4] * 5), make(bank, 2, [1] * 5), make(bank, 12, [4] * 5)]
    items = progress.checklist(bank.questions, attempts)
    assert [i.card for i in items] == list(range(1, 9))
    assert [i.status for i in items[:3]] == ["solid", "weak", "not yet"]
    assert items[0].question == bank.get(1).question and items[0].last_overall == 100 and items[0].attempts == 1


# ---------------------------------------------------------------- diff


def test_diff_reports_points_newly_covered_dropped_and_score_changes(bank):
    old = make(bank, 7, [2, 1, 0, 0, 0], days_ago=7,
               covered={"mechanism": ["Job runs to completion", "Deployment keeps replicas"],
                        "why_it_matters": ["GPU"]},
               misconceptions=["Use a Deployment for everything"])  # fmt: skip
    new = make(bank, 7, [2, 3, 1, 0, 0], days_ago=1,
               covered={"mechanism": ["Job runs to completion", "CronJob schedules Jobs"],
                        "why_it_matters": ["GPU", "status"], "tradeoffs": ["checkpoints"]})  # fmt: skip
    d = progress.diff(old, new)
    by_dim = {c.dimension: c for c in d.dimensions}
    assert by_dim["mechanism"].newly_covered == ("CronJob schedules Jobs",)
    assert by_dim["mechanism"].dropped == ("Deployment keeps replicas",)
    assert by_dim["mechanism"].change == 0
    assert (by_dim["why_it_matters"].change, by_dim["why_it_matters"].newly_covered) == (2, ("status",))
    assert by_dim["tradeoffs"].newly_covered == ("checkpoints",) and by_dim["tradeoffs"].change == 1
    assert d.overall_change == new.overall - old.overall > 0
    assert d.misconceptions_gone == ("Use a Deployment for everything",) and d.misconceptions_new == ()
    assert d.same_version
    assert d.to_json()["dimensions"][0]["newly_covered"] == ["CronJob schedules Jobs"]


def test_diff_refuses_ungraded_and_different_cards(bank):
    with pytest.raises(HistoryError, match="ungraded"):
        progress.diff(make(bank, 7, [1] * 5), make(bank, 7, [1] * 5, ungraded=True))
    with pytest.raises(HistoryError, match="different cards"):
        progress.diff(make(bank, 7, [1] * 5), make(bank, 6, [1] * 5))


def test_last_two_defaults_to_the_card_practised_last_and_skips_ungraded(bank):
    a = make(bank, 7, [1] * 5, days_ago=5)
    b = make(bank, 3, [1] * 5, days_ago=4)
    c = make(bank, 7, [2] * 5, days_ago=3)
    d = make(bank, 7, [3] * 5, days_ago=2, ungraded=True)
    e = make(bank, 3, [2] * 5, days_ago=1)
    history = [a, b, c, d, e]
    assert progress.last_two(history) == (b, e)
    assert progress.last_two(history, 7) == (a, c)
    with pytest.raises(HistoryError, match="a diff needs two"):
        progress.last_two(history, 5)
    with pytest.raises(HistoryError, match="no graded attempts"):
        progress.last_two([d])


# ---------------------------------------------------------------- next


def test_next_never_practised_first_in_card_order(bank):
    ranked = progress.suggestions(bank.questions, [], now=NOW)
    assert [s.card for s in ranked] == list(range(1, 21)) and not ranked[0].practised and ranked[0].due
    practised = [make(bank, card, [0] * 5, days_ago=30) for card in range(1, 21) if card not in (4, 9)]
    practised.append(make(bank, 4, [4] * 5, ungraded=True))  # ungraded: card 4 is still never practised
    assert [s.card for s in progress.suggestions(bank.questions, practised, now=NOW)][:2] == [4, 9]


def test_next_ranks_by_weakest_dimension_and_time_since_practice(bank):
    questions = [bank.get(n) for n in (1, 2, 3, 4, 5)]
    attempts = [
        make(bank, 1, [4, 4, 0, 4, 4], days_ago=2),  # weakest 0 -> every day: 2.0 intervals overdue
        make(bank, 2, [3, 4, 3, 4, 4], days_ago=20),  # weakest 3 -> every 8 days: 2.5
        make(bank, 3, [4] * 5, days_ago=1),  # weakest 4 -> every 16 days: not due
        make(bank, 4, [1] * 5, days_ago=30), make(bank, 4, [4, 4, 4, 4, 2], days_ago=8),  # latest counts: 2.0
        make(bank, 5, [1] * 5, days_ago=30), make(bank, 5, [2] * 5, days_ago=1, ungraded=True),  # 15.0
    ]  # fmt: skip
    ranked = progress.suggestions(questions, attempts, now=NOW)
    assert [s.card for s in ranked] == [5, 2, 1, 4, 3]  # 1 and 4 tie at 2.0: the weaker (card 1) first
    top = ranked[0]
    assert (top.weakest_dimension, top.weakest_score, top.interval_days) == ("mechanism", 1, 2)
    assert top.days_since == pytest.approx(30) and top.due
    assert ranked[2].weakest_dimension == "tradeoffs"
    assert not ranked[-1].due and ranked[-1].overdue == pytest.approx(1 / 16)


def test_next_when_nothing_is_due_suggests_the_card_due_soonest(bank):
    questions = [bank.get(1), bank.get(2)]
    attempts = [make(bank, 1, [4] * 5, days_ago=1), make(bank, 2, [2] * 5, days_ago=1)]
    ranked = progress.suggestions(questions, attempts, now=NOW)
    assert [s.card for s in ranked] == [2, 1] and not any(s.due for s in ranked)
