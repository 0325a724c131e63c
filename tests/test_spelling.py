"""Typed answers have typos. A word one slip from a word of the question or its reference is read as that word, a
contraction typed without its apostrophe keeps its negation, and the grade still quotes what was written
(grading/spelling.py). Real words, acronyms and code are left as written."""

from support.answer_keys import key, overall

from infralens_coach.grading import spelling
from infralens_coach.grading.text import split_spans

FREE = key(
    "Why should a linked list's destructor walk the whole list?",
    "Each node was allocated separately, so each must be freed, or the memory leaks.",
)
RIGHT = "each node was allocated separately so each one has to be freed or the memory leaks"
TYPED = "each node was alocated seperately so each one has to be fread or the memmory leaks"


def read(text: str, *lexicon_texts: str) -> tuple[str, dict[str, str]]:
    reader = spelling.Reader(spelling.lexicon(*lexicon_texts))
    return reader(text), reader.fixed


def test_one_slip_is_one_letter_left_out_added_changed_or_two_swapped():
    assert spelling.one_slip("recusion", "recursion")  # left out
    assert spelling.one_slip("memmory", "memory")  # added
    assert spelling.one_slip("pointor", "pointer")  # changed
    assert spelling.one_slip("fucntion", "function")  # swapped
    assert not spelling.one_slip("fcuntoin", "function")  # two slips
    assert not spelling.one_slip("stack", "stack")


def test_a_typo_is_read_as_the_question_word_it_misses():
    text, fixed = read("Recusion with no base case never stops.", "What happens to recursion without a base case?")
    assert text == "Recursion with no base case never stops."
    assert fixed == {"recusion": "recursion"}


def test_words_acronyms_and_code_stay_as_written():
    lexicon = ("How do SLOs relate to a slow stack?", "Use ifstream, not a stack of files; it needs no slots.")
    written_as_is = ("It is a stock answer.", "SLOs and SLIs.", "#include <istream> then strea(m)", "we needn't")
    for written in (*written_as_is, "we were done"):
        assert read(written, *lexicon) == (written, {}), written


def test_a_typo_that_fits_two_question_words_is_left_alone():
    assert read("a pointr", "A pointer to what it points at.")[1] == {}
    assert read("a pointr", "A pointer to the next node.")[1] == {"pointr": "pointer"}


def test_a_contraction_without_its_apostrophe_keeps_its_negation():
    reader = spelling.Reader(frozenset())
    span = split_spans("it doesnt remove the top", reader)[0]
    assert [t.raw for t in span.tokens][:3] == ["it", "does", "not"]
    assert span.quote == "it doesnt remove the top"


def test_a_typed_answer_earns_what_the_spelled_one_does_and_is_quoted_as_typed(bank, grader):
    spelled = overall(bank, grader, FREE, RIGHT)
    grade = grader.grade(FREE, bank.rubric, TYPED)
    assert grade.overall >= spelled - 3, (grade.overall, spelled)
    assert [q for d in grade.dimensions for q in d.evidence] == [TYPED]
    assert 'Read "alocated" as "allocated"' in (grade.summary or "")
    # The same answer with typos that fit no word of the key: the reading is what earned.
    garbled = TYPED.replace("alocated", "xlocated").replace("memmory", "xemmory").replace("fread", "xread")
    assert overall(bank, grader, FREE, garbled) < grade.overall - 8


def test_a_long_run_on_sentence_is_quoted_as_written():
    answer = " ".join(["the recusion keeps calling itself and"] * 14) + " it never stops"
    spans = split_spans(answer, spelling.Reader(spelling.lexicon("Why does recursion need a base case?")))
    assert len(spans) > 1
    for span in spans:
        assert span.quote in answer and "recusion" in span.quote
        assert "recusion" not in span.text
