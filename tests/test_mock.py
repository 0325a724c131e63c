"""Mock interview (issue 16): authored follow-ups on every seed card, probe choice, the session report,
persistence and resume, and the `mock` CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infralens_coach.content import DIMENSIONS, QuestionBank, builtin_questions_dir, load_question
from infralens_coach.errors import ContentError

# ---------------------------------------------------------------- 1. authored follow-ups


def test_every_seed_card_has_two_to_four_follow_ups_per_dimension():
    bank = QuestionBank.load()
    assert len(bank.questions) == 20
    for q in bank.questions:
        assert sorted(q.follow_ups) == sorted(DIMENSIONS), q.id
        seen: set[str] = set()
        for dim, probes in q.follow_ups.items():
            assert 2 <= len(probes) <= 4, (q.id, dim)
            for probe in probes:
                assert len(probe.split()) >= 5, (q.id, dim, probe)  # a real question, not a keyword
                key = " ".join(probe.lower().split())
                assert key not in seen, (q.id, probe)
                seen.add(key)


def _card_file(tmp_path: Path, extra: str = "", *, drop_follow_ups: bool = True) -> Path:
    """A copy of seed card 7 in a pack of its own, its follow-ups replaced by `extra`."""
    source = next(builtin_questions_dir().glob("card-07-*.yaml")).read_text(encoding="utf-8")
    if drop_follow_ups and "\nfollow_ups:" in source:
        source = source[: source.index("\nfollow_ups:") + 1]
    pack = tmp_path / "pack"
    pack.mkdir(exist_ok=True)
    path = pack / "card.yaml"
    path.write_text(source.replace("card: 7", "card: 107").replace("id: k8s-job", "id: pack-job") + extra)
    return path


TWO = '["Why one?", "Why two?"]'


def test_follow_ups_are_validated_like_the_rest_of_the_card(tmp_path):
    # A pack card may go without follow-ups (reference-only and older packs)...
    assert load_question(_card_file(tmp_path)).follow_ups == {}
    # ...but the built-in bank may not.
    with pytest.raises(ContentError, match="follow_ups: .*required"):
        load_question(_card_file(tmp_path), require_follow_ups=True)
    partial = "follow_ups:\n  tradeoffs: " + TWO + "\n"
    with pytest.raises(ContentError, match=r"follow_ups: .*no follow-ups for: mechanism"):
        load_question(_card_file(tmp_path, partial))
    all_five = "follow_ups:\n" + "".join(f"  {d}: " + TWO.replace("Why", d) + "\n" for d in DIMENSIONS)
    assert load_question(_card_file(tmp_path, all_five)).follow_ups["tradeoffs"] == ("tradeoffs one?", "tradeoffs two?")
    for bad, message in (
        (all_five.replace('["mechanism one?", "mechanism two?"]', '["Only one?"]'), "2 to 4"),
        (all_five.replace('"mechanism two?"', '"  "'), "empty"),
        (all_five.replace('"mechanism two?"', '"Tradeoffs  ONE?"'), "duplicate"),
        (all_five + "  speed: " + TWO + "\n", "unknown dimension"),
    ):
        with pytest.raises(ContentError, match=message):
            load_question(_card_file(tmp_path, bad))


def test_follow_ups_do_not_change_the_card_version(tmp_path):
    """Grades compare within one card version; follow-ups are not graded with the main answer."""
    bank = QuestionBank.load()
    seed = bank.get(7)
    bare = load_question(_card_file(tmp_path))
    assert seed.follow_ups and not bare.follow_ups
    assert seed.model_copy(update={"follow_ups": {}}).version(bank.rubric) == seed.version(bank.rubric)


def test_a_pack_copied_from_the_bank_still_validates(tmp_path):
    pack = tmp_path / "copy"
    shutil.copytree(builtin_questions_dir(), pack)
    for path in pack.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        card = int(text.split("card: ", 1)[1].split("\n", 1)[0])
        path.write_text(text.replace(f"card: {card}\n", f"card: {card + 100}\n").replace("\nid: ", "\nid: copy-"))
    bank = QuestionBank.load([pack])
    assert len(bank.questions) == 40


# ---------------------------------------------------------------- 2. probe choice, the session, the report

import secrets  # noqa: E402

import yaml  # noqa: E402

from infralens_coach import mock, progress  # noqa: E402
from infralens_coach.coach import Coach  # noqa: E402
from infralens_coach.config import Settings  # noqa: E402
from infralens_coach.grading.base import DimensionScore, Grade  # noqa: E402
from infralens_coach.grading.keyword import KeywordGrader  # noqa: E402
from infralens_coach.history import HistoryStore  # noqa: E402
from infralens_coach.mock_report import report_markdown, session_report  # noqa: E402

ANSWERS = Path(__file__).parent / "answers"


def answers(card: int) -> dict[str, str]:
    return yaml.safe_load((ANSWERS / f"card_{card:02d}.yaml").read_text(encoding="utf-8"))["answers"]


def paragraphs(card: int) -> list[str]:
    return [p for p in answers(card)["full"].split("\n") if p.strip()]


# Card 7's strong answer without its tradeoffs paragraph; the follow-up answer is that paragraph.
WEAK_ON_TRADEOFFS = " ".join(p for p in paragraphs(7) if not p.startswith("The tradeoffs"))
TRADEOFFS_PARAGRAPH = next(p for p in paragraphs(7) if p.startswith("The tradeoffs"))


@pytest.fixture
def home():
    """A data directory outside /tmp and outside the repo (a /tmp fixture once hid a path bug)."""
    path = Path.home() / ".cache" / f"infralens-test-{secrets.token_hex(4)}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def coach_in(home: Path) -> Coach:
    """The real Coach with the offline grader on wording only (fast: no embedding model) and a real history."""
    settings = Settings(data_dir=home, grader_meaning=False)
    return Coach(QuestionBank.load(), settings, grader=KeywordGrader(meaning=False), store=HistoryStore.open(settings))


def grade_with(scores: dict[str, int], *, decided_by: str = "keyword", follow_up: str | None = None) -> Grade:
    dims = tuple(
        DimensionScore(d, scores.get(d, 0), 4, (), (f"missing {d} point",) if scores.get(d, 0) < 4 else (), "")
        for d in DIMENSIONS
    )
    return Grade("k8s-job-vs-deployment", 7, dims, 50, (), decided_by, follow_up=follow_up)


def test_the_probe_goes_to_the_weakest_dimension_the_answer_did_not_cover():
    bank = QuestionBank.load()
    q = bank.get(7)
    scores = {"mechanism": 4, "why_it_matters": 3, "tradeoffs": 0, "common_mistake": 0, "related_lab": 1}
    probe = mock.choose_probe(q, bank.rubric, grade_with(scores))
    # tradeoffs and common mistake tie at 0/4: tradeoffs weighs more (0.20 vs 0.15)
    assert probe.dimension == "tradeoffs" and probe.source == "authored"
    assert probe.question in q.follow_ups["tradeoffs"]
    assert "Tradeoffs scored 0/4" in probe.reason and "Common mistake" in probe.reason
    # a dimension fully covered is never probed, however heavy
    probe = mock.choose_probe(q, bank.rubric, grade_with({**scores, "tradeoffs": 4, "common_mistake": 2}))
    assert probe.dimension == "related_lab"
    # everything covered: the heaviest dimension is probed, and the reason says so
    probe = mock.choose_probe(q, bank.rubric, grade_with(dict.fromkeys(DIMENSIONS, 4)))
    assert probe.dimension == "mechanism" and "every dimension was covered" in probe.reason


def test_the_authored_probe_is_the_one_closest_to_what_was_missed():
    bank = QuestionBank.load()
    q = bank.get(7)
    base = grade_with({"mechanism": 4, "why_it_matters": 4, "tradeoffs": 1, "common_mistake": 4, "related_lab": 4})
    missed = [p.text for p in q.points["tradeoffs"] if p.id == "cleanup-and-idle"]
    dims = tuple(d if d.dimension != "tradeoffs" else DimensionScore("tradeoffs", 1, 4, (), tuple(missed), "")
                 for d in base.dimensions)  # fmt: skip
    probe = mock.choose_probe(q, bank.rubric, Grade(q.id, 7, dims, 70, (), "keyword"))
    assert probe.question == "What is left behind after Jobs finish, and what does an idle Deployment cost?"


def test_an_llm_grade_brings_its_own_probe_and_a_pack_card_without_follow_ups_a_generic_one(tmp_path):
    bank = QuestionBank.load()
    scores = {"mechanism": 3, "why_it_matters": 3, "tradeoffs": 1, "common_mistake": 2, "related_lab": 2}
    asked = "What happens to a training Job's progress when its pod is retried?"
    probe = mock.choose_probe(bank.get(7), bank.rubric, grade_with(scores, decided_by="llm:openai/x", follow_up=asked))
    assert (probe.source, probe.question, probe.dimension) == ("llm", asked, "tradeoffs")
    bare = load_question(_card_file(tmp_path))
    probe = mock.choose_probe(bare, bank.rubric, grade_with(scores))
    assert probe.source == "generic" and probe.dimension == "tradeoffs" and probe.question.endswith("?")


def test_a_follow_up_is_graded_on_its_dimension_only():
    bank = QuestionBank.load()
    settings = Settings(grader_meaning=False)
    # The whole strong answer as a follow-up: only the probed dimension is assessed.
    grade = mock.grade_follow_up(bank.get(7), bank.rubric, "tradeoffs", answers(7)["full"], settings)
    assessed = {d.dimension: d.score for d in grade.dimensions if d.max_score}
    assert list(assessed) == ["tradeoffs"] and assessed["tradeoffs"] >= 3
    assert grade.overall == round(100 * assessed["tradeoffs"] / 4)
    off = mock.grade_follow_up(bank.get(7), bank.rubric, "tradeoffs", answers(7)["mechanism_why"], settings)
    assert off.dimension("tradeoffs").score == 0 and off.dimension("tradeoffs").missing


def run_session(coach: Coach, cards=(7, 2, 12), *, stop_after: int | None = None) -> mock.MockSession:
    session = mock.MockSession.start(coach, list(cards), style="interview", selection="test")
    steps = 0
    while (step := session.next_step()) is not None:
        if stop_after is not None and steps == stop_after:
            break
        if step.kind == "question":
            text = WEAK_ON_TRADEOFFS if step.card == 7 else answers(step.card)["mechanism_why"]
        else:
            text = TRADEOFFS_PARAGRAPH if step.card == 7 else "I am not sure, I would have to look that up."
        session.answer(text)
        steps += 1
    return session


def test_a_session_probes_the_weak_dimension_and_reports_per_card_dimension_and_next(home):
    coach = coach_in(home)
    session = run_session(coach)
    data = session.data
    assert data.complete and all(r.attempt_id for r in data.runs)
    first = data.runs[0]
    assert first.probe is not None and first.probe["dimension"] == "tradeoffs"
    assert Grade.from_json(first.grade).dimension("tradeoffs").score == 0
    assert first.follow_up_score().score >= 3  # the follow-up made the tradeoffs points

    report = session_report(data, coach.bank)
    card7 = report.cards[0]
    line = next(d for d in card7.dimensions if d.id == "tradeoffs")
    assert (line.score, line.counts) == (0, line.follow_up) and line.counts >= 3
    assert card7.went.startswith("recovered")
    assert report.weakest in DIMENSIONS and report.strongest in DIMENSIONS and report.weakest != report.strongest
    trade = next(d for d in report.dimensions if d.id == "tradeoffs")
    assert any(card == 7 for card, _ in trade.earned) and any(card == 2 for card, _ in trade.missed)
    # three things, one per card while a card has something below full marks (card 7 recovered its tradeoffs)
    assert len(report.practise_next) == 3 and {p["card"] for p in report.practise_next} >= {2, 12}
    assert all(p["score"] < p["max_score"] and p["what"] for p in report.practise_next)
    assert report.delivery.answers == 0  # typed answers: nothing to time

    md = report_markdown(report)
    for needle in ("# Mock interview", "## Card by card", "**Probe** (Tradeoffs", "recovered", "## By dimension",
                   "Strongest:", "## Delivery", "## Practise next", "due now in `infralens-coach next`"):  # fmt: skip
        assert needle in md, needle

    # Kept as one session with its three attempts linked, and the three things to practise are due now.
    kept = coach.store.get_session(data.id[-6:])
    assert kept.state == "complete" and [p for p, _ in kept.attempt_ids] == [0, 1, 2]
    assert {a for _, a in kept.attempt_ids} == {a.id for a in coach.store.list()}
    marks = mock.practice_marks(coach.store)
    assert set(marks) == {p["card"] for p in report.practise_next}
    ranked = progress.suggestions(coach.bank.questions, coach.store.list(graded_only=True), marked=marks)
    assert all(s.due for s in ranked if s.card in marks)
    unmarked = progress.suggestions(coach.bank.questions, coach.store.list(graded_only=True))
    assert not any(s.due for s in unmarked if s.card in marks)  # without the marks, just practised: not due


def test_an_interrupted_session_resumes_where_it_stopped_and_is_never_counted_as_failed(home):
    coach = coach_in(home)
    session = run_session(coach, stop_after=3)  # card 1 and its follow-up, then card 2's answer
    sid = session.data.id
    coach.store.close()

    again = coach_in(home)  # a new process: a reload, or a closed tab
    kept = again.store.get_session(sid[:8])
    assert kept.state == "in_progress" and len(kept.attempt_ids) == 2
    resumed = mock.MockSession.resume(again, sid[:8])
    step = resumed.next_step()
    assert (step.kind, step.index, step.card) == ("follow_up", 1, 2)
    assert mock.practice_marks(again.store) == {}  # an unfinished session marks nothing
    assert len(again.store.list()) == 2  # the cards not reached leave no attempt (no zero scores)
    while (step := resumed.next_step()) is not None:
        resumed.answer(answers(step.card)["mechanism_why"] if step.kind == "question" else TRADEOFFS_PARAGRAPH)
    assert again.store.get_session(sid).state == "complete"
    assert len(again.store.list_sessions()) == 1


def test_cards_are_chosen_from_a_group_the_checklist_the_due_cards_random_or_a_list():
    bank = QuestionBank.load()
    cards, how = mock.choose_cards(bank, group="explain-the-why")
    assert all(bank.get(c).group == "explain-the-why" for c in cards) and len(cards) == 7
    assert how == "group explain-the-why"
    with pytest.raises(ContentError.__base__, match="gives 2 card"):  # too small a group for a session
        mock.choose_cards(bank, group="debug-and-operate")
    assert mock.choose_cards(bank, checklist=True)[0] == list(progress.CHECKLIST_CARDS)
    ranked = progress.suggestions(bank.questions, [])
    assert mock.choose_cards(bank, due=mock.due_cards(ranked, 4))[0] == [1, 2, 3, 4]
    one = mock.choose_cards(bank, random_count=5, seed=3)[0]
    assert one == mock.choose_cards(bank, random_count=5, seed=3)[0] and len(set(one)) == 5
    assert mock.choose_cards(bank, cards=["7", "k8s-requests-and-limits", 9])[0] == [7, 6, 9]
    from infralens_coach.errors import AnswerError

    for kwargs in ({"cards": ["7", "8"]}, {"random_count": 9}, {"cards": ["7", "7", "8"]}, {}):
        with pytest.raises(AnswerError):
            mock.choose_cards(bank, **kwargs)


# ---------------------------------------------------------------- 4. the CLI, on real speech (espeak-ng + Whisper)

import json  # noqa: E402

from click.testing import CliRunner  # noqa: E402

from infralens_coach.cli import main  # noqa: E402

# Spoken answers, in our own words. Card 7's covers mechanism, why it matters and the common mistake but says
# nothing about tradeoffs; its follow-up answer is only about tradeoffs.
SPOKEN = {
    # (no "kubectl" or "backoff limit": tiny.en hears "Kubeflow" and a retry, both tradeoffs phrases)
    "01": "A Job runs work until it is done, and a Deployment keeps a set number of replicas running all the time. "
    "So a data preprocessing step belongs in a Job, and an inference API belongs in a Deployment. If you pick "
    "wrong, a finished script keeps restarting and burns GPU time. A common mistake is running a one off task as a "
    "Deployment just because it uses the same container image. In a lab I would run the same script as a Job and "
    "as a Deployment, kill the container in each and compare what happens.",
    "01-follow-up": "Job retries start from scratch unless the training code resumes from a checkpoint, so a high "
    "backoff limit can waste a lot of compute. Distributed training usually outgrows a bare Job, so you use a "
    "training operator or a workflow engine like Argo.",
}


def _spoken_answers() -> dict[str, str]:
    from support.clips import COVERAGE_ANSWERS

    return {
        **SPOKEN,
        "02": COVERAGE_ANSWERS[12],
        "02-follow-up": "Spot capacity is much cheaper, but the cloud can take it back at short notice, so only "
        "checkpointed training should run there, never a stateful service.",
        "03": COVERAGE_ANSWERS[13],
        "03-follow-up": "A short window catches a fast burn quickly but is noisy, and a long window catches a slow "
        "burn but late, so I would combine both.",
    }


def cli(home: Path, *args: str):
    result = CliRunner().invoke(main, list(args), env={"INFRALENS_HOME": str(home)})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.mark.slow
def test_mock_from_the_cli_on_recordings_probes_the_weak_dimension_and_resumes_after_an_interruption(home):
    from support.clips import speech

    folder = home / "answers"
    folder.mkdir(parents=True)
    spoken = _spoken_answers()
    for stem in ("01", "01-follow-up", "02"):  # the script stops after the 2nd question: an interruption
        shutil.copyfile(speech(spoken[stem]), folder / f"{stem}.wav")

    first = cli(home, "mock", "--cards", "7,12,13", "--audio-dir", str(folder), "--json")
    assert first.exit_code == 1, first.output  # stopped before the end, saved
    out = json.loads(first.stdout)
    session, report = out["session"], out["report"]
    run7 = session["runs"][0]
    assert run7["mode"] == "upload" and run7["metrics"]["word_count"] > 30
    assert Grade.from_json(run7["grade"]).dimension("tradeoffs").score <= 1
    assert run7["probe"]["dimension"] == "tradeoffs" and run7["probe"]["source"] == "authored"
    assert run7["follow_up_grade"]["dimensions"][2]["score"] >= 2  # the follow-up made tradeoffs points
    assert run7["follow_up_audio"].startswith(f"sessions/{session['id']}/")
    assert not report["complete"] and session["runs"][1]["grade"] is not None and session["runs"][2]["grade"] is None
    assert "No answer file" in first.stderr and "--resume" in first.stderr

    listed = json.loads(cli(home, "history", "sessions", "--json").stdout)
    assert [(s["id"], s["state"], s["answered"]) for s in listed] == [(session["id"], "in_progress", 2)]
    assert "incomplete" in cli(home, "history", "sessions").stdout

    for stem in ("02-follow-up", "03", "03-follow-up"):
        shutil.copyfile(speech(spoken[stem]), folder / f"{stem}.wav")
    again = cli(home, "mock", "--resume", session["id"][-8:], "--audio-dir", str(folder), "--report",
                str(home / "report.md"))  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "Card 1 of 3" not in again.stdout and "Card 2 of 3 · card 12 · follow-up" in again.stdout
    md = (home / "report.md").read_text(encoding="utf-8")
    assert "## Delivery" in md and "6 recorded answer(s)" in md and "words per minute" in md
    assert "**Probe** (Tradeoffs" in md and "## Practise next" in again.stdout

    shown = cli(home, "history", "session", session["id"][:10])
    assert shown.exit_code == 0 and "complete" in shown.stdout and "## Practise next" in shown.stdout
    kept = json.loads(cli(home, "history", "session", session["id"], "--json").stdout)
    assert len(kept["attempt_ids"]) == 3 and kept["report"]["complete"]
    nxt = json.loads(cli(home, "next", "--json").stdout)
    first_marked = kept["report"]["practise_next"][0]["card"]
    assert next(s for s in nxt if s["card"] == first_marked)["due"]


@pytest.mark.slow
def test_mock_record_counts_down_warns_and_stops_each_answer_at_the_limit(home):
    """--record through real PortAudio: ALSA's file plugin replays a 15 s answer as the microphone for each step;
    with a 6 s target every answer runs into the countdown, is cut there, warned about first, and still graded."""
    import os
    import subprocess
    import sys

    from support import clips

    mic = clips.alsa_config(clips.raw_microphone(clips.ANSWER, tail_s=1.0), "mic-mock.conf")
    env = dict(os.environ, ALSA_CONFIG_PATH=str(mic), INFRALENS_HOME=str(home), INFRALENS_TARGET_SECONDS="3-6")
    result = subprocess.run(
        [sys.executable, "-m", "infralens_coach.cli", "mock", "--cards", "7,6,12", "--record", "--json"],
        env=env, input="", capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    session = json.loads(result.stdout)["session"]
    assert session["answer_seconds"] == 6.0
    recorded = [r[k] for r in session["runs"] for k in ("metrics", "follow_up_metrics")]
    assert len(recorded) == 6 and all(abs(m["recording_s"] - 6.0) < 0.3 for m in recorded)
    assert result.stderr.count("10 seconds left") == 6  # the warning comes before each auto-stop
    assert result.stderr.count("time is up: stopped at the limit") == 6
    report = json.loads(result.stdout)["report"]
    assert report["complete"] and report["delivery"]["at_limit"] == 6
