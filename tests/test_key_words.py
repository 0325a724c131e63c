"""A reference-only question's key, said the way students say it (eval/README.md, follow-up 10): in a word of the
same meaning ("item" for "element"), as a first short sentence that the rest explains ("Linear. If ..."), or over
two sentences. Term lists, padding and wrong answers that share a word must still earn little. Graded with the
bundled sentence-embedding model, as `eval` rows and reference-only packs are."""

import importlib.util
from collections import Counter
from pathlib import Path

from support.answer_keys import key, overall

from infralens_coach.evaluation.probes import FILLER
from infralens_coach.grading import KeywordGrader, embed
from infralens_coach.grading.coverage import key_stems, question_stems, word_share
from infralens_coach.grading.key_words import KEY_WORDS_WEIGHT, key_word_share
from infralens_coach.grading.synonyms import GROUPS, OPPOSITES, canonical, opposite
from infralens_coach.grading.text import split_spans, stem

PEEK = key("What does the peek operation of a stack do?", "It returns the top element without removing it.")
SEARCH = key(
    "What is the worst-case time to search a binary search tree?",
    "O(n); it happens when the tree is completely unbalanced, so every node has one child.",
)
FREE = key(
    "Why should a linked list's destructor walk the whole list?",
    "Each node was allocated separately, so each must be freed, or the memory leaks.",
)


def test_each_word_is_in_one_group_only():
    stems = [stem(w) for line in GROUPS.split("\n") for w in line.split()]
    assert len(stems) == len(set(stems))
    assert canonical(stem("item")) == canonical(stem("element")) != canonical(stem("pointer"))


def test_a_word_of_the_same_meaning_counts():
    # "gives", "item", "pop" for "returns", "element", "removing": no key word in common before.
    keys = key_stems(PEEK.reference_answer, question_stems(PEEK.question))
    said = split_spans("it gives you the top item but does not pop it")[0]
    assert word_share(keys, said, synonyms=True) == 1.0
    assert word_share(keys, said) == 0.25  # "top" alone: a card point's key words are its own
    assert word_share(keys, split_spans("it searches the stack for a value")[0], synonyms=True) == 0.0


def test_a_word_of_the_same_meaning_earns(bank, grader):
    said = overall(bank, grader, PEEK, "it gives you the top item but does not pop it")
    assert said >= 75, said
    assert overall(bank, grader, PEEK, "it searches the stack for a value") < said - 50


def evidence(grade) -> list[str]:
    return [quote for dim in grade.dimensions for quote in dim.evidence]


def test_a_short_first_answer_that_the_rest_explains_earns(bank, grader):
    # "Linear." alone is not prose, and the answer is too long to be a short answer: it could not earn before.
    answer = "Linear. If every node only has a right child you have to walk through all of them to find the key."
    grade = grader.grade(SEARCH, bank.rubric, answer)
    assert "Linear." in evidence(grade), grade.dimensions
    wrong = "Logarithmic. You only go down one path from the root to a leaf so it is always fast."
    assert "Logarithmic." not in evidence(grader.grade(SEARCH, bank.rubric, wrong))
    assert overall(bank, grader, SEARCH, wrong) < grade.overall - 40


def test_a_first_sentence_that_lists_terms_is_not_an_answer(bank, grader):
    # five terms are a list, not an answer given first (LEAD_TOKENS)
    listed = "linear, node, child, tree, unbalanced. The tree has nodes and each one has a value."
    assert not [q for q in evidence(grader.grade(SEARCH, bank.rubric, listed)) if q.startswith("linear, node")]


def test_a_first_short_sentence_earns_nothing_on_a_card(bank, grader):
    card = bank.get(7)  # a card's points are explanations: a bare term up front ("Kubeflow" is a tradeoff's phrase)
    bare = "Kubeflow. Some teams like one and some like the other, it depends on many things in the cluster."
    assert "Kubeflow." not in evidence(grader.grade(card, bank.rubric, bare))
    # the same term inside a sentence is the card's wording, and earns
    said = "I would use Kubeflow for distributed training. Some teams like one and some like the other."
    assert evidence(grader.grade(card, bank.rubric, said))[0].startswith("I would use Kubeflow")


def test_key_words_spread_over_two_sentences_count(bank, grader):
    spread = "Every node got its own allocation with new. You have to free each one or that memory leaks."
    one = "Every node got its own allocation with new."
    assert overall(bank, grader, FREE, spread) > overall(bank, grader, FREE, one)
    summary = grader.grade(FREE, bank.rubric, spread).summary
    assert summary and f"{KEY_WORDS_WEIGHT:.0%} of the overall is the share of the reference's key words" in summary


def test_a_term_list_and_padding_earn_no_key_words(bank, grader):
    terms = "allocated, separately, freed, memory, leaks, node"
    assert overall(bank, grader, FREE, terms) <= 15
    answer = "Each node was allocated on its own, so each one must be freed or the memory leaks."
    padded = f"That is a good question, let me think. {answer} I hope that makes sense."
    assert overall(bank, grader, FREE, padded) == overall(bank, grader, FREE, answer)


INSERTION = key(
    "How does insertion sort work?",
    "It builds a sorted portion one element at a time: each next element is inserted into its place among the "
    "sorted ones, shifting larger elements right.",
)


def test_a_short_answer_is_not_held_to_the_whole_of_a_long_key():
    # 1 of its 11 key words ("item" for "element"), but half of what it says: (1/11 + 1/2) / 2
    short = key_word_share(INSERTION, split_spans("insert each item into the sorted part")).share
    assert 0.25 < short < 0.35, short
    assert key_word_share(INSERTION, split_spans("it swaps neighbours until nothing moves")).share == 0.0
    long = "It takes each element in turn and inserts it into its place among the ones already sorted, shifting the "
    assert key_word_share(INSERTION, split_spans(long + "larger ones one step to the right.")).share > short


BINARY = key(
    "Why is binary search faster than linear search on a sorted array?",
    "Each comparison discards half of the remaining elements, so it takes O(log n) steps instead of O(n).",
)


def test_a_word_near_a_key_word_in_meaning_says_part_of_it(grader):
    model = grader.model()
    answer = split_spans("so every node is released, otherwise the storage is never given back")
    in_words = key_word_share(FREE, answer)  # node: 1 of 3 ("each" and "separately" are function words)
    near = key_word_share(FREE, answer, model)
    assert in_words.share == 1 / 3 and not in_words.other_words
    assert in_words.share + 0.1 < near.share < 1.0, near
    assert ("released", "freed") in near.other_words
    left = key_word_share(BINARY, split_spans("every check throws away half of what is left, so log n checks"), model)
    assert ("left", "remaining") in left.other_words


def test_the_grade_names_the_words_said_in_other_words(bank, grader):
    grade = grader.grade(FREE, bank.rubric, "so every node is released, otherwise the storage is never given back")
    assert grade.summary and '"released" for "freed"' in grade.summary, grade.summary
    assert "in its words or in others near them" in grade.summary
    in_its_words = grader.grade(FREE, bank.rubric, FREE.reference_answer)
    assert in_its_words.summary and "share of the reference's key words the answer uses (100%)." in in_its_words.summary


def test_restating_the_question_or_another_subject_says_no_key_word_by_meaning(grader):
    model = grader.model()
    for answer in (
        "binary search is faster than linear search on a sorted array",
        "I like pizza and my dog is called Rex, they are both great fun to be around.",
    ):
        assert key_word_share(BINARY, split_spans(answer), model).share == 0.0, answer
    # near words listed are still a list: nothing
    listed = split_spans("released, storage, given back, lose, delete, every one")
    assert key_word_share(FREE, listed, model).share == 0.0


def test_an_opposite_is_not_a_word_near_in_meaning(grader):
    # the model puts "bottom" near "top" (both name one end of the stack): as an opposite it says nothing of it
    model = grader.model()
    bottom = key_word_share(PEEK, split_spans("it looks at the bottom of the stack"), model)
    assert not [pair for pair in bottom.other_words if pair[1] == "top"], bottom
    assert bottom.share < 0.1, bottom
    assert opposite(stem("pushes"), stem("popping")) and opposite(stem("largest"), stem("minimum"))
    assert not opposite(stem("top"), stem("top")) and not opposite(stem("pop"), stem("delete"))
    for line in OPPOSITES.strip().splitlines():  # a side is never its own opposite's synonym
        left, right = ({canonical(stem(w)) for w in side.split()} for side in line.split("|"))
        assert not left & right, line


class CountingMiniLM(embed.MiniLM):
    """The bundled model, counting how often each text's tokens go through it."""

    def __init__(self) -> None:
        found = importlib.util.find_spec(embed.MODEL_PACKAGE)
        assert found is not None and found.submodule_search_locations
        super().__init__(Path(next(iter(found.submodule_search_locations))) / "model.onnx", embed.vocab_path())
        self.runs: Counter[tuple[int, ...]] = Counter()

    def _hidden(self, token_ids):
        self.runs.update(tuple(ids) for ids in token_ids)
        return super()._hidden(token_ids)


class SentencesOnly:
    """The model without its word vectors: the grader then counts key words in their words and groups only."""

    def __init__(self, model: embed.MiniLM) -> None:
        self.name, self.encode = model.name, model.encode


def test_words_near_in_meaning_cost_no_second_run_of_the_model(bank):
    # A word's vector comes from the run that made its sentence's vector: a 2-minute answer against a reference
    # alone took twice as long when they were run again (bench/grade_speed.py).
    with_words, without = CountingMiniLM(), CountingMiniLM()
    answers = (
        "Every node got its own new. So every node is released, otherwise the storage is never given back.",
        "You walk it because each node was a separate allocation and you have to delete them one by one.",
    )
    for grader in (KeywordGrader(with_words), KeywordGrader(SentencesOnly(without))):
        for answer in answers:
            assert "key words" in (grader.grade(FREE, bank.rubric, answer).summary or "")
    assert with_words._words  # the words were there to be used...
    assert with_words.runs == without.runs  # ...and came from the very same runs


MERGE = key(
    "Why does merge sort take O(n log n) time?",
    "It halves the input log n times, and each level of merging costs O(n) work.",
)


def test_filler_that_shares_a_key_word_lends_it_nothing(bank, grader):
    # FILLER says "in my work": the key's "work", and other words near its words, in a sentence on no subject
    answer = "It divides the list in two repeatedly, about log n times, and merging at each level is linear."
    alone, padded = grader.grade(MERGE, bank.rubric, answer), grader.grade(MERGE, bank.rubric, f"{answer} {FILLER}")
    assert padded.overall <= alone.overall, (padded.overall, alone.overall)
    assert padded.summary == alone.summary
    model = grader.model()
    ungated = key_word_share(MERGE, split_spans(f"{answer} {FILLER}"), model)  # every sentence lends its words
    assert ungated.share > key_word_share(MERGE, split_spans(answer), model).share + 0.1


def test_filler_after_a_short_answer_does_not_make_it_a_long_one(bank, grader):
    # A short answer's key-word share is half how much of what it says is the key's (a wrong "WHERE" costs it);
    # filler made it a long answer, held to the key's words alone, and "HAVING or WHERE" reached 100 %.
    question = key("Which SQL clause filters groups after GROUP BY?", "HAVING")
    for answer in ("HAVING or WHERE, both can filter", "must be HAVING, it runs after the grouping"):
        alone = grader.grade(question, bank.rubric, answer)
        padded = grader.grade(question, bank.rubric, f"{answer}. {FILLER}")
        assert padded.overall <= alone.overall, (answer, padded.overall, alone.overall)
