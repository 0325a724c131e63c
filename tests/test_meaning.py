"""The offline grader beyond exact phrases (issue 13): graded coverage, matching by meaning with the bundled
sentence-embedding model, misconceptions by meaning, and the wording-only fallback when there is no model."""

import csv
import threading
from pathlib import Path

import numpy as np
import pytest

from infralens_coach.config import Settings
from infralens_coach.content import Question, QuestionBank
from infralens_coach.evaluation.probes import padded
from infralens_coach.grading import KeywordGrader, build_grader, embed

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bank() -> QuestionBank:
    return QuestionBank.load()


def reference_only(question: str, reference: str) -> Question:
    """A user's own card with only a reference answer (the same path as `eval` rows and minimal packs)."""
    # Its points are derived from the reference when it is graded (grading.derive.points_of), as for a loaded pack.
    return Question(card=901, id="own", question=question, reference_answer=reference)


STACK = reference_only(
    "What are the two basic operations of a stack?",
    "Push adds an item to the top of the stack and pop removes the item from the top.",
)


def overall(bank, question, text, grader=None) -> int:
    return (grader or KeywordGrader()).grade(question, bank.rubric, text).overall


def test_a_short_correct_answer_earns_credit(bank):
    # Today's rule that only prose earns zeroes "push and pop", which a human grader gives full marks.
    assert overall(bank, STACK, "push and pop") >= 75
    assert overall(bank, STACK, "enqueue and dequeue") <= 10
    assert overall(bank, STACK, "A stack stores data in memory.") <= 25


def test_a_point_can_be_partly_made(bank):
    question = reference_only(
        "What does a load balancer do?",
        "A load balancer spreads incoming requests across several servers and stops sending traffic to servers "
        "that fail health checks.",
    )
    full = overall(
        bank,
        question,
        "It spreads requests over many servers and stops sending traffic to servers whose health checks fail.",
    )
    part = overall(bank, question, "It checks whether servers are healthy.")
    assert 0 < part < full, (part, full)


def test_length_does_not_inflate_the_score(bank):
    short = overall(bank, STACK, "push and pop")
    assert overall(bank, STACK, " ".join(["push and pop."] * 4)) <= short
    rambling = (
        "Well, a stack is a very common data structure that you find in many programs and languages, "
        "and it is used all the time by developers for storing things in memory in an organized way."
    )
    assert overall(bank, STACK, rambling) < short


HASHING = reference_only(
    "What does the hash function do in a hash table?",
    "The hash function maps a key to an index in the table's array, so an entry can be stored and found again in "
    "about constant time.",
)


def test_restating_the_question_in_the_references_words_scores_below_a_short_correct_answer(bank):
    # A human grader gives the first nothing and the second full marks; sentence by sentence, the first shares as
    # many of the reference's words (key, table, function, array) and used to score as high.
    restated = (
        "The hash function in a hash table is the function that the table uses on each key, because a hash table "
        "needs a hash function to work. It is a function that does the hashing for the keys of the table and the "
        "array that the table keeps, which is why it is called a hash function."
    )
    short = "turns the key into a slot number in the array, so lookups take constant time"
    assert overall(bank, HASHING, restated) + 25 <= overall(bank, HASHING, short)
    summary = KeywordGrader().grade(HASHING, bank.rubric, short).summary
    assert summary and "short answer key" in summary, summary  # the overall says what it weighed


@pytest.mark.parametrize("answer", ["enqueue and dequeue", "it keeps the data sorted"])
def test_filler_after_a_wrong_short_answer_does_not_raise_it(bank, answer):
    # Filler is far from both the question and the key: it must not dilute how near the question the answer sits.
    assert overall(bank, STACK, padded(answer)) <= overall(bank, STACK, answer)


def test_a_short_keys_correcting_sentence_is_made_by_saying_it(bank):
    # Filed under common mistake for its "rather than"; in a one-sentence key it is the answer itself.
    static = reference_only(
        "What does it mean for a data member to be static?",
        "A static data member belongs to the class rather than to any object, so all instances share one copy.",
    )
    assert overall(bank, static, "there is one copy of it that every object of the class shares") >= 60
    assert overall(bank, static, "it can't be changed after it is set") <= 30


def test_a_paraphrase_is_made_by_meaning_and_the_feedback_says_so(bank):
    card = bank.get(9)
    sentence = "Without it the model decays quietly and you only hear about it from customers."
    answer = "You compare live inputs and predictions with a reference window from training. " + sentence
    why = KeywordGrader().grade(card, bank.rubric, answer).dimension("why_it_matters")
    assert why.score >= 1
    assert why.evidence == (sentence,)
    assert "by meaning" in why.feedback
    assert "Models decay silently as the world changes" in why.feedback  # which point it made


WRONG_ARGUMENT = (
    "I'd validate the candidate offline against a held-out evaluation set, and if the offline metrics beat the "
    "current model I'd roll it out to all users right away. "
    "Canary releases and A/B tests mostly slow the team down, so I'd skip them. "
    "The offline evaluation already tells us the new model is better, and if something breaks we can always retrain."
)


def test_an_argument_for_the_misconception_is_reported_and_earns_nothing(bank):
    card = bank.get(16)
    grade = KeywordGrader().grade(card, bank.rubric, WRONG_ARGUMENT)
    assert [m.id for m in grade.misconceptions] == ["ship-on-offline-gain"]
    assert all(not d.evidence for d in grade.dimensions), [d.evidence for d in grade.dimensions]
    assert grade.dimension("mechanism").score == 0
    assert grade.overall <= 10


# Issue 13's unreported example, phrased as other candidates would (written for eval/README follow-up 8): an
# argument for shipping on offline metrics that waves canaries and A/B tests off.
SHIP_ON_OFFLINE_GAIN = (
    "My approach is simple: train the candidate, evaluate it on the held-out set, and if the offline metrics are "
    "better than production, push it to everyone. Canaries and A/B tests just slow the team down and the offline "
    "numbers already prove the model is better.",
    "You deploy safely by validating thoroughly offline. Run the candidate against a frozen test set, compare "
    "precision and recall with the current model, and once it wins, promote it to all traffic. Honestly canary "
    "rollouts and A/B experiments mostly add delay; if the offline evaluation is solid you don't need them.",
    "Safe deployment starts with a strong offline evaluation. If the new model beats the old one on accuracy and "
    "AUC, I ship it to one hundred percent of users. Shadow traffic and canaries are a lot of process that slows the "
    "team down for little benefit.",
    "I'd make sure the model is versioned in the registry, then check offline metrics on a validation set. When "
    "those improve, that's the signal to deploy everywhere at once. A/B tests take weeks to reach significance and "
    "canaries slow us down, so I skip them and rely on the offline numbers. If anything goes wrong we can roll back.",
    "The key is the offline evaluation. A model that scores higher on the held-out data is a better model, so "
    "there's no reason to hold it back from users. Gradual rollouts like canary just slow down the team and delay "
    "the gains.",
    "Basically: evaluate offline, and if it's better, ship it. I've found canary releases and A/B testing to be "
    "mostly overhead that slows the team down, since offline metrics already tell you whether the model improved.",
    "First I'd benchmark the new model offline on the test split. Improved offline metrics mean it's ready, so I'd "
    "replace the production model for all users in one go. Canaries and A/B tests slow teams down and the offline "
    "results are good enough evidence.",
)


@pytest.mark.parametrize("answer", SHIP_ON_OFFLINE_GAIN)
def test_the_issue_example_is_reported_however_it_is_phrased(bank, answer):
    grade = KeywordGrader().grade(bank.get(16), bank.rubric, answer)
    assert [m.id for m in grade.misconceptions] == ["ship-on-offline-gain"]
    quoted = {m.evidence for m in grade.misconceptions}
    assert not any(e in quoted for d in grade.dimensions for e in d.evidence)  # never the evidence for a point
    assert grade.dimension("mechanism").score <= 1


def test_a_warning_against_the_misconception_is_not_reported(bank):
    card = bank.get(16)
    warned = (
        "A trap is shipping a model just because the offline numbers went up. Real traffic differs from the "
        "evaluation data, so I mirror requests in shadow mode first and then send a small slice of users to it."
    )
    assert not KeywordGrader().grade(card, bank.rubric, warned).misconceptions


def test_without_the_model_the_grader_matches_wording_and_says_so(bank, monkeypatch):
    missing = embed.load("no_such_embedding_package")
    assert isinstance(missing, embed.Unavailable) and "not installed" in missing.reason
    grade = KeywordGrader(missing).grade(bank.get(7), bank.rubric, "A Job runs to completion and retries failures.")
    assert grade.dimension("mechanism").score >= 1
    assert grade.summary and "wording only" in grade.summary and "not installed" in grade.summary
    monkeypatch.setenv(embed.SWITCH, "0")  # the switch reaches the grader through Settings, like every setting
    off = build_grader(Settings.from_env(), "keyword").keyword
    graded = off.grade(bank.get(7), bank.rubric, "A Job runs to completion and retries failures.")
    assert graded.summary and "turned off" in graded.summary
    monkeypatch.delenv(embed.SWITCH)
    on = build_grader(Settings.from_env(), "keyword").keyword
    assert on.grade(bank.get(7), bank.rubric, "A Job runs to completion.").summary is None


def test_the_model_loads_once_per_process_across_threads():
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(embed.default_embedder())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(m) for m in seen}) == 1 and isinstance(seen[0], embed.MiniLM)
    vectors = seen[0].encode(["A queue is first in, first out.", "A queue removes the oldest element first."])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert float(vectors[0] @ vectors[1]) > 0.6


class TableEmbedder:
    """A fake model (our Embedder protocol): texts containing a keyword share that keyword's direction."""

    name = "table"
    KEYS = ("alpha", "beta", "gamma")

    def encode(self, texts):
        rows = []
        for text in texts:
            v = np.array([1.0 if k in text.lower() else 0.0 for k in self.KEYS] + [0.2])
            rows.append(v / np.linalg.norm(v))
        return np.array(rows, dtype=np.float32)


def test_the_closest_sentence_is_the_quote_for_a_point_made_by_meaning(bank):
    card = Question.model_validate(
        {
            "card": 902,
            "id": "fake",
            "question": "Why?",
            "short_answer": "Because.",
            "points": {
                dim: [{"id": f"{dim}-1", "text": f"{word} point", "phrases": [f"unmatchable{dim}"]}]
                for dim, word in zip(
                    ("mechanism", "why_it_matters", "tradeoffs", "common_mistake", "related_lab"),
                    ("alpha", "beta", "gamma", "delta", "epsilon"),
                    strict=True,
                )
            },
        }
    )
    answer = "This sentence is about alpha in detail. Here we discuss beta and what it changes for the team."
    grade = KeywordGrader(TableEmbedder()).grade(card, bank.rubric, answer)
    assert grade.dimension("mechanism").evidence == ("This sentence is about alpha in detail.",)
    assert grade.dimension("why_it_matters").evidence == ("Here we discuss beta and what it changes for the team.",)
    assert "by meaning" in grade.dimension("mechanism").feedback
    assert grade.dimension("tradeoffs").score == 0 and grade.dimension("tradeoffs").missing == ("gamma point",)


# Misconceptions asserted in words the card's phrases do not list (issue 13): as a confident claim, as advice, and
# by brushing the card's practice aside. Written for these tests, not taken from eval/.
ASSERTED_IN_OTHER_WORDS = {
    8: "Once the pods show the GPUs fully busy and every request comes back with a 200, you can trust the model. "
    "Those two numbers cover it.",
    19: "Out of memory means the batch is too big. Keep cutting it in half until the crash stops, and you are done.",
    16: "Shadow deployments and gradual rollouts are paperwork for an ML team. When the holdout score beats "
    "production, swap the new model in for everyone.",
}


# Card 8's wording sits at cosine 0.44 from the misconception's one-line text with MiniLM; it is found through
# the ways the card says the misconception is claimed (Misconception.claims).
@pytest.mark.parametrize("card", sorted(ASSERTED_IN_OTHER_WORDS))
def test_a_misconception_asserted_in_other_words_is_reported_and_earns_nothing(bank, card):
    grade = KeywordGrader().grade(bank.get(card), bank.rubric, ASSERTED_IN_OTHER_WORDS[card])
    assert grade.misconceptions, "not reported"
    quoted = {m.evidence for m in grade.misconceptions}
    for dim in grade.dimensions:
        assert not quoted & set(dim.evidence), (dim.dimension, dim.evidence)
    assert grade.dimension("common_mistake").score == 0


def test_dismissing_the_cards_practice_is_asserting_the_mistake(bank):
    # "X is overhead / paperwork / overkill" said of what the card recommends argues the mistake...
    card = bank.get(11)
    dismissive = (
        "Logging every config, curve and data split is mostly overhead that nobody reads. Keep the best checkpoint."
    )
    grade = KeywordGrader().grade(card, bank.rubric, dismissive)
    assert grade.misconceptions
    assert all(not d.evidence for d in grade.dimensions), [d.evidence for d in grade.dimensions]
    # ...while the same words aimed at the mistake, or a hedged tradeoff, do not.
    for fine in (
        "Alerting on every metric threshold is overkill: page on the symptoms users feel, from the SLO burn rate.",
        "For a low-risk change a full A/B test can be overkill, so a short canary with rollback thresholds is enough.",
    ):
        assert not KeywordGrader().grade(bank.get(13 if "SLO" in fine else 16), bank.rubric, fine).misconceptions


@pytest.mark.parametrize(
    ("card", "answer"),
    [
        # The "waste" of "a waste of time" brushes the practice aside; it is not a warning word there.
        (
            19,
            "When a job runs out of memory I cut the batch size, hunting for leaks with a memory profiler is a waste "
            "of time.",
        ),
        (
            14,
            "A feature store is a key value table of features, and point-in-time joins are more theory than practice.",
        ),
    ],
)
def test_a_dismissal_of_the_practice_is_not_read_as_a_warning(bank, card, answer):
    grade = KeywordGrader().grade(bank.get(card), bank.rubric, answer)
    assert grade.misconceptions, [d.evidence for d in grade.dimensions]
    assert grade.dimension("common_mistake").score == 0


def test_a_dismissal_of_the_mistake_still_warns(bank):
    fine = "Lowering the batch size until it fits is a waste of time if a leak is the cause: profile memory first."
    assert not KeywordGrader().grade(bank.get(19), bank.rubric, fine).misconceptions


@pytest.mark.parametrize(
    ("card", "told"),
    [
        # Someone else's belief or habit, named to set it aside: the card's wording matches, but nothing is asserted.
        (2, "A lot of folks think a bigger GPU fixes a slow job, so I look at the step timeline first."),
        (2, "Many teams reach for a larger GPU, which only raises the bill while the dataloader still stalls."),
        (2, "The instinct is to upgrade the GPU, but first find out where the step time goes."),
        (1, "People sometimes describe the whole field as choosing PyTorch, but the framework is one layer of it."),
    ],
)
def test_a_misconception_told_as_someone_elses_belief_is_not_asserted(bank, card, told):
    grade = KeywordGrader().grade(bank.get(card), bank.rubric, told)
    assert not grade.misconceptions, grade.misconceptions[0].evidence
    assert grade.dimension("common_mistake").score >= 1


def test_the_speakers_own_generalization_still_asserts(bank):
    # "usually" is the speaker's own claim here, not a report of someone else's.
    said = "If the run is slow on A10s, switch it to H100s and it will be fast, that's usually the quickest win."
    assert KeywordGrader().grade(bank.get(2), bank.rubric, said).misconceptions


def test_a_question_the_speaker_asks_asserts_nothing(bank):
    # It sits close to the card's "every OOM is a batch that is too big" in meaning, but it asks; it does not claim.
    asked = "First I ask which memory ran out. Was it a CUDA out of memory error on the GPU?"
    assert not KeywordGrader().grade(bank.get(19), bank.rubric, asked).misconceptions


@pytest.mark.parametrize(
    ("card", "held"),
    [
        # "problem" names the situation here; it does not warn against anything.
        (2, "A slow training run is a hardware problem, so the fix is a newer accelerator with more memory."),
        # The negation stands in a later clause: the first clause asserts on its own.
        (
            4,
            "You put the driver, CUDA and the libraries in the container and then it just works anywhere, you never "
            "have to think about what the node has installed.",
        ),
    ],
)
def test_a_misconception_beside_a_neutral_problem_or_a_later_negation_is_asserted(bank, card, held):
    assert KeywordGrader().grade(bank.get(card), bank.rubric, held).misconceptions


def test_a_negation_in_the_first_clause_governs_the_sentence(bank):
    warned = "I wouldn't just name PyTorch and TensorFlow, since the framework is one layer of the system."
    assert not KeywordGrader().grade(bank.get(1), bank.rubric, warned).misconceptions


MISCONCEPTION_TUNE = {
    row["id"]: row
    for name in ("misconception-tune.csv", "misconception-tune2.csv", "adversarial-tune.csv")
    for row in csv.DictReader((REPO / "eval" / name).open())
}


@pytest.mark.parametrize(
    "row_id",
    [
        "mt04b",  # "you don't really care what machine it lands on": "care" is not "careful"
        "mt06b",  # "i don't usually bother with cpu or memory requests": the speaker's own habit
        "mt12b",  # "everything on spot" said plainly, beside "interruptions don't happen" about the savings
        "mt14a",  # "It's basically a Postgres table": "it" stands for the feature store the question names
        "mt16c",  # "Shadow and canary stages mostly add delay"
        "mt15c",  # "Snapshotting datasets is expensive overhead for little gain"
        "mt03c",  # "drift dashboards and lineage tracking are nice-to-have overhead"
        "at06m2",  # "shared memory settings are something nobody really needs to touch"
        "at17m2",  # "you don't need to shard or cache anything, just have each worker fetch every little file"
    ],
)
def test_plainly_said_misconceptions_of_the_tune_set_are_reported(bank, row_id):
    row = MISCONCEPTION_TUNE[row_id]
    assert KeywordGrader().grade(bank.get(int(row["card"])), bank.rubric, row["answer"]).misconceptions


@pytest.mark.parametrize(
    "held",
    [
        "A better AUC on the offline test set is more than enough evidence to replace the production model outright.",
        "If the new model wins offline, a canary is overkill; just roll it out.",  # a condition is no hedge
        "When offline AUC goes up, you don't need a canary, roll it out to all users.",
    ],
)
def test_more_than_enough_and_a_conditional_dismissal_assert(bank, held):
    assert KeywordGrader().grade(bank.get(16), bank.rubric, held).misconceptions


@pytest.mark.parametrize(
    "card, warned",
    [
        (
            16,
            "I'd be careful about shipping only because offline numbers went up; shadow and canary come first.",
        ),
        (
            14,
            "It's not just a table of features: point-in-time joins keep training and serving alike.",
        ),
        (6, "Teams usually set only the GPU count, and then pods get evicted when memory runs out on the node."),
    ],
)
def test_careful_a_negated_subject_and_someone_elses_habit_still_warn(bank, card, warned):
    assert not KeywordGrader().grade(bank.get(card), bank.rubric, warned).misconceptions


@pytest.mark.parametrize(
    "card, correct",
    [
        (6, "For CPU-only inference pods you don't need a GPU request at all."),  # dismisses the mistake's subject
        (10, "A registry is much more than a folder of checkpoints: versions live there with lineage and approval."),
        (10, "It's where versions live with lineage and approval state, much more than a folder of checkpoints."),
        (
            5,
            "It solves scaling and scheduling for many inference services, but for one researcher it adds friction.",
        ),
    ],
)
def test_a_contrast_or_an_it_outside_a_reduction_asserts_nothing(bank, card, correct):
    assert not KeywordGrader().grade(bank.get(card), bank.rubric, correct).misconceptions


@pytest.mark.parametrize(
    "row_id",
    [
        "mt03f",  # "CI/CD is only one piece of MLOps": a part, not the whole
        "mt05f",  # "for a single researcher with one box it can be overkill": a hedged dismissal is a tradeoff
        "mt07e",  # "i've seen people run a batch script as a deployment": someone else's habit, witnessed
    ],
)
def test_correct_answers_of_the_tune_set_that_name_the_mistake_are_not_flagged(bank, row_id):
    row = MISCONCEPTION_TUNE[row_id]
    assert not KeywordGrader().grade(bank.get(int(row["card"])), bank.rubric, row["answer"]).misconceptions


@pytest.mark.parametrize(
    "row_id",
    [
        "mu03c",  # "drift or lineage ... don't fall under MLOps": the practice ruled out of the job
        "mu07a",  # "whether something finishes or keeps running doesn't change much"
        "mu08c",  # "tracking input or prediction distributions adds little"
        "mu11b",  # "I'm not sure logging all the hyperparameters ... really adds much": a hedged dismissal
        "mu16c",  # "staged rollouts aren't really needed"
        "mu18c",  # "review isn't really part of it": near the card's practice, far from the mistake's wording
        "mu10c",  # "lineage and stage tracking are somebody else's job"
        "mu03b",  # "Once the deploy pipeline is automated you're done with the MLOps side": called enough
        "mu08b",  # "Latency, errors and GPU usage are probably enough"
        "mu06c",  # "the GPU request is the only one that counts"
    ],
)
def test_played_down_practices_and_the_mistake_called_enough_are_reported(bank, row_id):
    row = MISCONCEPTION_TUNE[row_id]
    assert KeywordGrader().grade(bank.get(int(row["card"])), bank.rubric, row["answer"]).misconceptions


def test_that_is_enough_is_judged_with_the_sentence_it_points_back_to(bank):
    held = "Honestly the Git commit covers it; snapshotting datasets doesn't add much."
    assert KeywordGrader().grade(bank.get(15), bank.rubric, held).misconceptions


@pytest.mark.parametrize(
    "card, correct",
    [
        # what is called enough makes the card's points, or the sentence sets it apart from the mistake
        (15, "Pin the code, the data snapshot, the config and the environment; that's all it takes to rerun a model."),
        (14, "A feature store is more than a table: it boils down to point-in-time correct joins."),
        # a risk played down where the card says it is fine, and an action, are not dismissals of the practice
        (12, "For checkpointed training, losing a spot node doesn't matter much: the job resumes from a checkpoint."),
        (13, "If most pages are noise people ignore them, and the error budget tells you when to slow releases down."),
        # "not just", "one part of": the mistake is named as less than the whole
        (6, "Every ML pod needs CPU, memory and shared memory requests, not just the GPU."),
        (3, "CI/CD is one part of MLOps, but it doesn't cover monitoring, lineage or retraining."),
    ],
)
def test_the_right_view_called_enough_or_set_apart_asserts_nothing(bank, card, correct):
    assert not KeywordGrader().grade(bank.get(card), bank.rubric, correct).misconceptions


@pytest.mark.parametrize(
    "row_id",
    [
        "mu01e",  # "Accuracy is a property of the model, but someone has to build the machinery": what follows "but"
        "mu07d",  # "If you run a finite task as a Deployment ..., Kubernetes restarts it": a hypothesis and its cost
        "mu08d",  # "GPU utilization and status codes only tell you the service is up": a limit set on them
        "mu16d",  # "Better offline numbers are a prerequisite, not a green light"
    ],
)
def test_a_concession_a_hypothesis_or_a_limit_is_not_the_mistake(bank, row_id):
    row = MISCONCEPTION_TUNE[row_id]
    assert not KeywordGrader().grade(bank.get(int(row["card"])), bank.rubric, row["answer"]).misconceptions


def test_slip_warns_as_a_noun_not_as_something_slipping_through(bank):
    card = bank.get(13)
    # misconception-heldout mh13b: reported before issue 13, lost when "slip" became a warning word
    held = "Every metric gets a threshold alert so nothing slips through."
    assert [m.id for m in KeywordGrader().grade(card, bank.rubric, held).misconceptions] == ["alert-on-every-metric"]
    for warned in (
        "A common slip is to alert on every metric; page on SLO burn rate instead.",
        "It is easy to slip into alerting on every metric, which trains people to ignore pages.",
    ):
        assert not KeywordGrader().grade(card, bank.rubric, warned).misconceptions, warned


@pytest.mark.parametrize(
    ("card", "held"),
    [
        # More ways of brushing the card's practice aside (eval/README.md, follow-up 13): delay counted in weeks,
        # a practice that "slows every release down", "overcomplicates", is "overhead" or some team's job, and
        # what the card says to check that the speaker "doesn't worry about".
        (
            16,
            "Canaries and shadow traffic add weeks of delay to every release, so a model that wins offline ships.",
        ),
        (
            16,
            "A/B tests sound rigorous, but they slow every release down, so a model that wins offline ships.",
        ),
        (14, "Feature store products overcomplicate it; a shared table of the latest values is all a team needs."),
        (4, "The image carries the whole CUDA stack, so I don't worry much about the driver versions on the hosts."),
        (10, "Approval states and lineage are the compliance team's problem; the registry is a bucket of weights."),
        (
            10,
            "Stage labels and sign-offs are overhead that slows iteration; the registry keeps versioned weights.",
        ),
    ],
)
def test_more_dismissals_of_the_practice_assert_the_mistake(bank, card, held):
    grade = KeywordGrader().grade(bank.get(card), bank.rubric, held)
    assert grade.misconceptions, [d.evidence for d in grade.dimensions]


@pytest.mark.parametrize(
    ("card", "fine"),
    [
        (
            16,
            "Skipping the canary because it adds a day of delay is how a model that won offline breaks production.",
        ),
        (4, "Containers pin the CUDA toolkit, but the driver lives on the host, so I do worry about the host driver."),
        (
            14,
            "Don't overcomplicate it with a table alone: without point-in-time joins training leaks the future.",
        ),
        (2, "Data loading slows training down when the workers are too few, so I profile the input pipeline first."),
    ],
)
def test_the_same_words_in_a_warning_or_a_mechanism_assert_nothing(bank, card, fine):
    assert not KeywordGrader().grade(bank.get(card), bank.rubric, fine).misconceptions


@pytest.mark.parametrize(
    ("card", "correct"),
    [
        # restates the card's own first sentence (cosine 0.89) though it sits at 0.69 from "Putting ML on Kubernetes
        # automatically makes it scalable"
        (
            5,
            "Kubernetes pays off when many teams ship many workloads and want shared scheduling, service discovery, "
            "rolling updates, autoscaling and one deployment pattern.",
        ),
        (5, "A misunderstanding I hear a lot is that putting ML on Kubernetes means it'll just scale by itself."),
    ],
)
def test_restating_the_cards_answer_or_naming_a_misunderstanding_asserts_nothing(bank, card, correct):
    grade = KeywordGrader().grade(bank.get(card), bank.rubric, correct)
    assert not grade.misconceptions, grade.misconceptions


def test_to_an_answer_key_saying_the_terms_matter_can_be_the_answer(bank):
    """On a card, "X and Y are key" earns nothing (tests/test_keyword_grader.py); to a short key it is the answer."""
    oop = reference_only("What are the main advantages of object-oriented programming?", "Abstraction and reusability.")
    assert overall(bank, oop, "Reusability and abstraction are key.") >= 60
