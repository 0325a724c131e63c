"""Answer keys of a few words ("by reference.", "O(1)", "HAVING"), as instructors jot them: the key itself, a
student's longer wording of it, and a complexity said in words must earn credit; a wrong answer and a restated
question must not. Graded with the bundled sentence-embedding model, as `eval` rows and reference-only packs are."""

import pytest
from support.answer_keys import key, overall

from infralens_coach.content import QuestionBank
from infralens_coach.grading import KeywordGrader
from infralens_coach.grading.derive import points_of
from infralens_coach.grading.text import tokenize

ARRAYS = key("How are arrays passed to functions in C++?", "by reference.")
LOOKUP = key("What is the average-case time of looking up a key in a hash table?", "O(1)")
GROUPS = key("Which SQL clause filters groups after GROUP BY?", "HAVING")
QUICKSORT = key("What is the worst-case running time of quicksort on n elements?", "O(n^2)")


@pytest.mark.parametrize("question", [LOOKUP, GROUPS, QUICKSORT])
def test_a_key_without_a_long_content_word_still_has_a_point(question):
    # It used to derive no point at all, so every answer, the key included, scored 0.
    assert [p.text for pts in points_of(question).values() for p in pts] == [question.reference_answer]


@pytest.mark.parametrize(
    ("question", "right", "wrong"),
    [
        (ARRAYS, "arrays are passed by reference, the function gets the address of the first element", "by value"),
        (LOOKUP, "constant time on average", "O(n) because it scans the buckets"),
        (LOOKUP, "big O of one", "it is logarithmic"),
        (GROUPS, "you put the condition in HAVING, which is like WHERE but for groups", "WHERE"),
        (QUICKSORT, "quadratic, when the pivot is always the smallest element", "n log n"),
        (QUICKSORT, "n squared", "O(n log n) if the pivot is chosen well"),
    ],
)
def test_a_right_answer_in_other_words_beats_a_wrong_one(bank, grader, question, right, wrong):
    assert overall(bank, grader, question, question.reference_answer) >= 75  # the key itself
    right_score, wrong_score = overall(bank, grader, question, right), overall(bank, grader, question, wrong)
    assert right_score >= 60, right_score
    assert wrong_score <= 25, wrong_score


def test_a_key_made_of_the_questions_own_words_still_has_to_be_said(bank, grader):
    # The question's words are left out of a key's words, which left "LIFO" with none: every answer scored alike.
    question = key("Is a stack LIFO or FIFO?", "LIFO")
    assert overall(bank, grader, question, "LIFO") >= 75
    assert overall(bank, grader, question, "FIFO") <= 25


def test_a_compound_written_apart_is_the_same_word(bank, grader):
    question = key("Which traversal of a binary tree visits the root first?", "preorder")
    assert overall(bank, grader, question, "pre-order traversal") >= 60
    assert overall(bank, grader, question, "in-order traversal") <= 25


def test_each_word_of_a_short_key_counts(bank, grader):
    # Full word credit at 30 % of a key's words suits a sentence; a key of a few words is made by most of them.
    question = key("Why would a live video call use UDP rather than TCP?", "lower latency, no retransmission delays")
    both = overall(bank, grader, question, "latency is lower and lost packets are not retransmitted, so no delays")
    one = overall(bank, grader, question, "lower latency")
    assert both >= 90 and one <= 80, (both, one)


def test_restating_the_question_earns_nothing_against_a_fragment_key(bank, grader):
    assert overall(bank, grader, ARRAYS, "Arrays are passed to functions in C++ in a certain way.") <= 10
    assert overall(bank, grader, ARRAYS, "I hope that makes sense, it is a good question.") == 0


def test_the_summary_says_how_a_fragment_key_was_graded(bank, grader):
    summary = grader.grade(ARRAYS, bank.rubric, "by reference").summary
    assert summary and "key of a few words" in summary, summary


def test_a_short_sentence_in_a_longer_answer_earns():
    # "It is O(n)." is three words after the growth rate becomes one; it is a claim, not a term list.
    question = key(
        "How long does inserting at the front of an array of n elements take, and why?",
        "O(n), because every element must be shifted one position to the right.",
    )
    answer = (
        "It is O(n). There is no free slot before index 0, so every element has to move over first, and there "
        "are n of them to move."
    )
    grade = KeywordGrader().grade(question, QuestionBank.load().rubric, answer)
    assert grade.overall >= 50, grade
    assert any("It is O(n)." in e for d in grade.dimensions for e in d.evidence), grade.dimensions


@pytest.mark.parametrize(
    ("notation", "words"),
    [
        ("O(1)", "constant"),
        ("O(n)", "linear"),
        ("O(log n)", "logarithmic"),
        ("O(lg(n))", "logarithmic"),
        ("O(n log n)", "linearithmic"),
        ("n*log(n)", "linearithmic"),
        ("O(n^2)", "quadratic"),
        ("n squared", "quadratic"),
        ("big-O of one", "constant"),
        ("O(2^n)", "exponential"),
    ],
)
def test_a_growth_rate_is_one_word_however_it_is_written(notation, words):
    tokens = tokenize(f"it takes {notation} time")
    assert [t.raw for t in tokens] == ["it", "takes", words, "time"]
    growth = tokens[2]
    assert f"it takes {notation} time"[growth.start : growth.end] == notation  # quotes keep the original text


@pytest.mark.parametrize("text", ["O(V+E)", "n is the number of nodes", "the log has n lines", "an O-ring"])
def test_other_shapes_keep_their_own_tokens(text):
    assert not {"constant", "linear", "logarithmic", "quadratic"} & {t.raw for t in tokenize(text)}
