"""How the offline grader does on answers and questions it was not written for (issue 13). Prints, never asserts.

For each split (tune, heldout) of the sets in eval/:
- eval/cs-<split>.csv: reference-only computer-science and infrastructure questions with short human-style
  answers scored 0-5: the `eval` figures (Pearson, QWK, length_r...), exactly what
  `infralens-coach eval FILE --grader keyword --json` reports, and beside them the two alternatives issue 13
  measured on the public set (the share of the reference's content words, and its mean with the whole answer's
  cosine to the reference);
- eval/cs-long-<split>.csv: the same for intro C++ and data-structures questions with student-style answers of
  3-70 words whose length is unrelated to their score (short correct, long rambling, ...): whether the grader
  rewards length;
- eval/cs-mohler-<split>.csv: the same for 20 intro data-structures and C++ questions shaped like the public set
  (one-sentence keys; student answers of 3-45 words, mostly right, mean 4.0 of 5; length unrelated to score);
- eval/cs-shortkey-<split>.csv: the same for 16 + 16 questions from across a CS degree whose keys are a few words
  ("a stack", "O(1)", "HAVING", "a page fault") or one short sentence, as instructors jot them, with student answers
  that paraphrase, explain, restate the question first or give the key (each half by a different writer), and a
  blind third set of 16 from a third writer, graded once after the changes were frozen;
- eval/cs-twograder-<split>.csv: thirteen sets of 14 intro data-structures and C++ questions (tune, heldout, blind,
  blind2 to blind11), each with 12 answers as a class writes them (each set by its own writer, who gave no scores)
  and the mean of two graders' 0-5 scores, each grader blind to the other and to the writer, as the public set was
  scored; blind2 and blind3 were written and graded after the grader was frozen, blind4 to blind9 (mostly right
  answers, as in the public set) after the next change was, blind10 and blind11 (typed as students type, with
  typos) after the typo reading was;
- eval/paraphrase-<split>.csv: paraphrasing answers to the 20 seed cards (full, partial, off-topic, stuffed,
  misconception), graded against the full cards: how many of the dimensions each answer covers (column
  `covers`) the grader detects (score >= 1, and >= 2), whether full > partial > off-topic holds per card,
  stuffed < partial, how much padding moves a score, and whether asserted misconceptions are reported;
- eval/paraphrase-blind-<a|b>.csv: for all 20 cards, a full, a partial (mechanism and why it matters) and a fluent
  misconception answer, written by two helpers from the seed text alone and graded once before being read: dimensions
  detected, full > partial, misconceptions reported, full and partial answers wrongly flagged;
- eval/stuffed-<c..h>.csv: an answer per card that drops the card's vocabulary into sentences that explain nothing
  (six writers, six briefs; c and d also hold off-topic answers), against the card's partial answers;
- eval/adversarial-<split>.csv: more misconception answers (several phrasings per card: advice, a confident claim,
  dismissing the right practice, spoken) and stuffed answers (terms glued with commas or "and" in a prose shell),
  graded against the full cards: misconceptions reported, their sentences never quoted as evidence, below the
  card's full answer, and stuffed below the card's partial answer (both from the paraphrase sets);
- eval/misconception-<split>.csv: answers holding a card's mistake and correct ones, written independently of every
  other set: misconceptions reported, correct answers wrongly flagged. Splits: tune, tune2, tune3 and tune4 (rules
  are chosen on them and the judge is trained on them), tune5 (rules chosen on it, after its first grading),
  heldout, blind and blind2 (never tuned on; the blind sets' writers saw neither the grader nor any other set;
  blind2, tune3, tune4 and tune5 are fluent full answers, as in issue 13), blind5 (graded once frozen; one rule
  was changed after reading one answer it missed: eval/README.md, follow-up 13).

Run: python bench/grade_generalization.py [--wording-only]
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from infralens_coach.cli import main as cli_main
from infralens_coach.content import DIMENSIONS, QuestionBank
from infralens_coach.grading import KeywordGrader, embed
from infralens_coach.grading.coverage import key_stems, question_stems
from infralens_coach.grading.text import tokenize

EVAL = Path(__file__).resolve().parents[1] / "eval"
PADDING = (
    "That is a really good question, let me think for a second. ",
    " I hope that makes sense, that is basically how I would think about it.",
)
FIGURES = ("n", "pearson", "spearman", "qwk", "rmse", "within_1", "length_r", "length_r_given_human", "per_question_r")


def eval_figures(path: Path) -> dict:
    result = CliRunner().invoke(cli_main, ["eval", str(path), "--grader", "keyword", "--json"])
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return json.loads(result.stdout)


def word_share(question: str, reference: str, answer: str) -> float:
    """The simple grader issue 13 measured: the share of the reference's content words (question words removed)
    that the answer uses."""
    keys = key_stems(reference, question_stems(question))
    said = {t.stem for t in tokenize(answer)}
    return len(keys & said) / len(keys) if keys else 0.0


def baselines(path: Path, embedder) -> str:
    """The alternatives issue 13 measured on the public set, on the same rows: the share of the reference's content
    words the answer uses (question words removed; 0.50 there), and its mean with the cosine of the whole answer to
    the reference (0.57 there). How far the grader is above them here says what to expect there."""
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    human = np.array([float(r["score"]) / float(r["max_score"]) for r in rows])
    share = np.array([word_share(r["question"], r["reference_answer"], r["answer"]) for r in rows])
    line = f"baselines: word share pearson {np.corrcoef(share, human)[0, 1]:.4f}"
    if isinstance(embedder, embed.MiniLM):
        vectors = [embedder.encode([r["answer"], r["reference_answer"]]) for r in rows]
        cosine = np.array([float(v[0] @ v[1]) for v in vectors])
        line += f"  mean of share and whole-answer cosine pearson {np.corrcoef((share + cosine) / 2, human)[0, 1]:.4f}"
    return line


def paraphrase_checks(path: Path, grader, bank: QuestionBank) -> dict:
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    by_card: dict[str, dict[str, tuple[dict, object]]] = {}
    covered = detected = detected2 = 0
    padding_moves: list[int] = []
    for row in rows:
        question = bank.get(int(row["card"]))
        grade = grader.grade(question, bank.rubric, row["answer"])
        by_card.setdefault(row["card"], {})[row["kind"]] = (row, grade)
        for dim in filter(None, row["covers"].split(";")):
            covered += 1
            detected += grade.dimension(dim).score >= 1
            detected2 += grade.dimension(dim).score >= 2
        if row["kind"] in ("full", "partial"):
            padded = grader.grade(question, bank.rubric, PADDING[0] + row["answer"] + PADDING[1])
            padding_moves.append(padded.overall - grade.overall)
    order_ok = stuffed_ok = reported = below_full = 0
    failures = []
    for card, kinds in sorted(by_card.items(), key=lambda kv: int(kv[0])):
        s = {kind: grade.overall for kind, (_, grade) in kinds.items()}
        if s["full"] > s["partial"] > s["off-topic"]:
            order_ok += 1
        else:
            failures.append(f"card {card}: full {s['full']} partial {s['partial']} off-topic {s['off-topic']}")
        if s["stuffed"] < s["partial"]:
            stuffed_ok += 1
        else:
            failures.append(f"card {card}: stuffed {s['stuffed']} >= partial {s['partial']}")
        wrong = kinds["misconception"][1]
        reported += bool(wrong.misconceptions)
        below_full += s["misconception"] < s["full"]
        if not wrong.misconceptions:
            failures.append(f"card {card}: misconception answer not reported (overall {s['misconception']})")
    cards = len(by_card)
    return {
        "dimensions_detected": f"{detected} of {covered} (score >= 1); {detected2} of {covered} (score >= 2)",
        "full > partial > off-topic": f"{order_ok} of {cards} cards",
        "stuffed < partial": f"{stuffed_ok} of {cards} cards",
        "padding": f"max change {max(padding_moves, key=abs):+d}, mean {sum(padding_moves) / len(padding_moves):+.1f}",
        "misconception reported": f"{reported} of {cards}; below full on {below_full} of {cards}",
        "mean overall by kind": {
            k: round(sum(g.overall for kinds in by_card.values() for kk, (_, g) in kinds.items() if kk == k) / cards)
            for k in ("full", "partial", "stuffed", "misconception", "off-topic")
        },
        "problems": failures,
    }


def blind_card_checks(path: Path, grader, bank: QuestionBank) -> dict:
    """eval/paraphrase-blind-<a|b>.csv: a full, a partial (mechanism and why it matters) and a misconception answer
    per card, for all 20 cards, written from the seed text alone: the card checks of issue 13 without human scores."""
    grades: dict[str, dict[str, object]] = {}
    covered = detected = 0
    failures = []
    for row in csv.DictReader(path.open(encoding="utf-8")):
        grade = grader.grade(bank.get(int(row["card"])), bank.rubric, row["answer"])
        grades.setdefault(row["card"], {})[row["kind"]] = grade
        for dim in {"full": DIMENSIONS, "partial": DIMENSIONS[:2]}.get(row["kind"], ()):
            covered += 1
            detected += grade.dimension(dim).score >= 1
            if grade.dimension(dim).score < 1:
                failures.append(f"{row['id']} card {row['card']}: {dim} not detected")
    order = below = reported = flagged = 0
    for card, by_kind in sorted(grades.items(), key=lambda kv: int(kv[0])):
        full, partial, wrong = by_kind["full"], by_kind["partial"], by_kind["misconception"]
        order += full.overall > partial.overall
        below += wrong.overall < full.overall
        reported += bool(wrong.misconceptions)
        flagged += bool(full.misconceptions) + bool(partial.misconceptions)
        if full.overall <= partial.overall:
            failures.append(f"card {card}: full {full.overall} <= partial {partial.overall}")
        if not wrong.misconceptions:
            failures.append(f"card {card}: misconception answer not reported (overall {wrong.overall})")
        for kind in ("full", "partial"):
            if by_kind[kind].misconceptions:
                failures.append(f"card {card}: {kind} answer flagged")
    cards = len(grades)
    return {
        "dimensions_detected": f"{detected} of {covered} (score >= 1)",
        "full > partial": f"{order} of {cards} cards",
        "misconception reported": f"{reported} of {cards}; below full on {below} of {cards}",
        "full or partial answers flagged": f"{flagged} of {2 * cards}",
        "problems": failures,
    }


def stuffed_checks(path: Path, grader, bank: QuestionBank) -> dict:
    """eval/stuffed-<c..h>.csv: per card, an answer that drops the card's vocabulary into sentences that explain
    nothing (and in c and d an off-topic one), written from the seed text alone by six writers with six briefs;
    compared with the card's partial answers (mechanism and why it matters) in paraphrase-blind-a, -b and the
    paraphrase sets (tune and heldout together hold one per card)."""
    partial: dict[str, dict[int, int]] = {}
    for name, source in (
        ("blind-a", "blind-a"),
        ("blind-b", "blind-b"),
        ("paraphrase", "tune"),
        ("paraphrase", "heldout"),
    ):
        for row in csv.DictReader((EVAL / f"paraphrase-{source}.csv").open(encoding="utf-8")):
            if row["kind"] == "partial":
                grade = grader.grade(bank.get(int(row["card"])), bank.rubric, row["answer"])
                partial.setdefault(name, {})[int(row["card"])] = grade.overall
    below = dict.fromkeys(partial, 0)
    scores, off_topic, failures = [], [], []
    for row in csv.DictReader(path.open(encoding="utf-8")):
        card = int(row["card"])
        overall = grader.grade(bank.get(card), bank.rubric, row["answer"]).overall
        if row["kind"] == "off-topic":
            off_topic.append(overall)
            continue
        scores.append(overall)
        for name, by_card in partial.items():
            below[name] += overall < by_card[card]
        if overall >= partial["paraphrase"][card]:
            failures.append(
                f"{row['id']} card {card}: stuffed {overall} >= paraphrase partial {partial['paraphrase'][card]}"
            )
    figures: dict = {
        "stuffed mean overall": round(sum(scores) / len(scores)),
        "stuffed < partial": ", ".join(f"{below[name]} of {len(scores)} ({name})" for name in partial),
    }
    if off_topic:
        figures["off-topic mean overall"] = round(sum(off_topic) / len(off_topic))
    return {**figures, "problems": failures}


def adversarial_checks(path: Path, grader, bank: QuestionBank) -> dict:
    reference: dict[str, dict[str, int]] = {}  # the card's full and partial answers, whichever split holds them
    for split in ("tune", "heldout"):
        for row in csv.DictReader((EVAL / f"paraphrase-{split}.csv").open(encoding="utf-8")):
            if row["kind"] in ("full", "partial"):
                grade = grader.grade(bank.get(int(row["card"])), bank.rubric, row["answer"])
                reference.setdefault(row["card"], {})[row["kind"]] = grade.overall
    wrong = reported = quoted = below_full = stuffed = stuffed_ok = 0
    failures = []
    for row in csv.DictReader(path.open(encoding="utf-8")):
        grade = grader.grade(bank.get(int(row["card"])), bank.rubric, row["answer"])
        ref = reference[row["card"]]
        if row["kind"] == "misconception":
            wrong += 1
            reported += bool(grade.misconceptions)
            evidence = {q for d in grade.dimensions for q in d.evidence}
            quoted += any(m.evidence in evidence for m in grade.misconceptions)
            below_full += grade.overall < ref["full"]
            if not grade.misconceptions:
                failures.append(
                    f"{row['id']} card {row['card']} ({row['style']}): not reported, overall {grade.overall}"
                )
        elif row["kind"] == "stuffed":
            stuffed += 1
            stuffed_ok += grade.overall < ref["partial"]
            if grade.overall >= ref["partial"]:
                failures.append(f"{row['id']} card {row['card']}: stuffed {grade.overall} >= partial {ref['partial']}")
    return {
        "misconception reported": f"{reported} of {wrong}; quoted as evidence {quoted}; below full {below_full}",
        "stuffed < partial": f"{stuffed_ok} of {stuffed}",
        "problems": failures,
    }


def misconception_checks(path: Path, grader, bank: QuestionBank) -> dict:
    """eval/misconception-<split>.csv: per card, answers that hold the card's mistake and correct answers (many of
    them naming the mistake as one to avoid), written from the seed text alone by someone who saw no other set."""
    counts = {"misconception": [0, 0], "correct": [0, 0]}  # [flagged, rows]
    failures = []
    for row in csv.DictReader(path.open(encoding="utf-8")):
        flagged = bool(grader.grade(bank.get(int(row["card"])), bank.rubric, row["answer"]).misconceptions)
        counts[row["kind"]][0] += flagged
        counts[row["kind"]][1] += 1
        if flagged != (row["kind"] == "misconception"):
            failures.append(f"{row['id']} card {row['card']} ({row['kind']}, {row['style']}): flagged {flagged}")
    (hit, wrong), (false, right) = counts["misconception"], counts["correct"]
    return {
        "misconception reported": f"{hit} of {wrong}",
        "correct answers flagged": f"{false} of {right}",
        "problems": failures,
    }


def main(argv: list[str]) -> None:
    bank = QuestionBank.load()
    if "--wording-only" in argv:
        os.environ[embed.SWITCH] = "0"  # the `eval` subprocesses below read it through Settings.from_env
    grader = KeywordGrader(meaning="--wording-only" not in argv)
    embedder = None if "--wording-only" in argv else embed.default_embedder()
    for name in (
        *("cs-tune", "cs-heldout", "cs-long-tune", "cs-long-heldout"),
        *("cs-mohler-tune", "cs-mohler-heldout", "cs-shortkey-tune", "cs-shortkey-heldout", "cs-shortkey-blind"),
        *(
            "cs-twograder-tune",
            "cs-twograder-heldout",
            "cs-twograder-blind",
            "cs-twograder-blind2",
            "cs-twograder-blind3",
            "cs-twograder-blind4",
            "cs-twograder-blind5",
            "cs-twograder-blind6",
            "cs-twograder-blind7",
            "cs-twograder-blind8",
            "cs-twograder-blind9",
            "cs-twograder-blind10",
            "cs-twograder-blind11",
        ),
    ):
        fig = eval_figures(EVAL / f"{name}.csv")
        print(
            f"{name}.csv (reference-only, human 0-5): "
            + "  ".join(f"{k} {fig[k]}" for k in FIGURES)
            + f"  decided_by {fig['decided_by']}"
        )
        print(f"  {baselines(EVAL / f'{name}.csv', embedder)}")
    for split in ("tune", "heldout"):
        report = paraphrase_checks(EVAL / f"paraphrase-{split}.csv", grader, bank)
        print(f"paraphrase-{split}.csv (full cards):")
        for key, value in report.items():
            if key == "problems":
                for line in value:
                    print(f"    {line}")
            else:
                print(f"  {key}: {value}")
        fig = eval_figures(EVAL / f"paraphrase-{split}.csv")
        print("  eval (reference-only): " + "  ".join(f"{k} {fig[k]}" for k in FIGURES))
    for split in ("blind-a", "blind-b"):
        print(f"paraphrase-{split}.csv (full cards):")
        for key, value in blind_card_checks(EVAL / f"paraphrase-{split}.csv", grader, bank).items():
            for line in value if key == "problems" else [f"{key}: {value}"]:
                print(f"    {line}" if key == "problems" else f"  {line}")
    for letter in "cdefgh":
        print(f"stuffed-{letter}.csv (full cards):")
        for key, value in stuffed_checks(EVAL / f"stuffed-{letter}.csv", grader, bank).items():
            for line in value if key == "problems" else [f"{key}: {value}"]:
                print(f"    {line}" if key == "problems" else f"  {line}")
    for split in ("tune", "heldout"):
        print(f"adversarial-{split}.csv (full cards):")
        for key, value in adversarial_checks(EVAL / f"adversarial-{split}.csv", grader, bank).items():
            for line in value if key == "problems" else [f"{key}: {value}"]:
                print(f"    {line}" if key == "problems" else f"  {line}")
    for split in ("tune", "tune2", "tune3", "tune4", "tune5", "heldout", "blind", "blind2", "blind5"):
        print(f"misconception-{split}.csv (full cards):")
        for key, value in misconception_checks(EVAL / f"misconception-{split}.csv", grader, bank).items():
            for line in value if key == "problems" else [f"{key}: {value}"]:
                print(f"    {line}" if key == "problems" else f"  {line}")


if __name__ == "__main__":
    main(sys.argv[1:])
