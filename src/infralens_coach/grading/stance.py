"""The words that tell whether a sentence holds a claim, reports it as someone else's, or warns against it:
warnings, negations, reported beliefs and habits, dismissals of a practice, hedges, contrasts and reductions.
grading/misconceptions.py decides with them; they are kept here so the lists read as one vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .text import Span, Token, stem, tokenize

# Words that turn a mention of a misconception into a warning against it anywhere in the sentence: the
# label ("a common mistake"), the advice ("avoid", "instead") or the bad consequence ("wasting GPUs").
WARNING_STEMS = frozenset(
    stem(w)
    for w in """mistake mistaken avoid instead rather wrong myth trap pitfall misconception misleading careful
    beware danger dangerous risky tempting temptation naive naively hide hides hiding mask masks masking
    fallacy incorrect blindly waste wasting forever bad hurt hurts pain painful anti instinct reflex urge
    slip misunderstanding misunderstood misguided""".split()
)
# A story of an approach that failed ("we upgraded to bigger GPUs and the step time barely moved, because the real
# issue was the decoder") warns against it as much as a warning word does.
FAILED_ATTEMPT = re.compile(
    r"\b(?:barely (?:moved|helped|changed|improved|budged)|(?:didn't|did not) help|made no difference|did nothing|"
    r"the real (?:issue|problem|cause|culprit|bottleneck) (?:was|turned out)|turned out to be)\b",
    re.I,
)
# Not "problem": it is mostly neutral ("a slow run is a hardware problem", "the problem a feature store solves").
# "careful" stems to "care", but "you don't really care what machine it lands on" asserts: the plain verb is
# left out of a sentence's stems (sentence_stems).
PLAIN_CARE = frozenset("care cares cared caring".split())
# "slip" warns as the noun ("a frequent slip is..."), not as the verb of something escaping notice: "alert on every
# metric so nothing slips through" asserts. The verb before one of these words is left out of a sentence's stems.
SLIP_VERB = frozenset("slip slips slipped slipping".split())
ESCAPE_PARTICLES = frozenset("through past by away under".split())
# Negations warn only in the clause they stand in: "don't just lower the batch size" warns, while
# "it's not complicated, you only need a GPU request" still asserts.
NEGATION_STEMS = frozenset(stem(w) for w in "not never no nobody nothing".split())
CLAUSE_BREAK = re.compile(r"[,;:()]|\b(?:but|which|because|so|while|whereas)\b", re.I)
# A common-mistake point counts only when the sentence frames it as a mistake, not a neutral mention.
MISTAKE_FRAME_STEMS = (
    WARNING_STEMS
    | NEGATION_STEMS
    | frozenset(stem(w) for w in "common often people teams usual usually typical classic only just".split())
)
# Words that make a sentence report a belief rather than hold it ("people often say..."): a meaning match
# there is not an assertion.
REPORTING_STEMS = (
    WARNING_STEMS
    | NEGATION_STEMS
    | frozenset(
        stem(w) for w in "common commonly often people sometimes usual usually typical typically classic myth".split()
    )
)
# Words of habit report a belief only when someone else has the habit: "I don't usually bother with CPU
# requests" is the speaker's own practice, and asserts.
HABIT_STEMS = frozenset(stem(w) for w in "often sometimes usual usually typical typically".split())
FIRST_PERSON = frozenset("i we i'd we'd i'm we're i've we've".split())
# Someone else's belief or habit, told rather than held ("a lot of folks assume a bigger GPU fixes it",
# "many teams reach for a bigger GPU, but..."): naming the mistake this way is not asserting it.
REPORTED_BELIEF = re.compile(
    r"\b(?:people|folks|teams|engineers|newcomers|beginners|juniors|many|someone|somebody|everyone|everybody|"
    r"a lot of \w+|lots of \w+|most \w+)\b[^,;:.]{0,40}?\b(?:think|thinks|thought|assume[sd]?|believe[sd]?|"
    r"say|says|said|claim(?:s|ed)?|describe[sd]?|treat(?:s|ed)?|expect(?:s|ed)?|reach(?:es|ed)?|jump(?:s|ed)?|"
    r"tend(?:s|ed)?|default(?:s|ed)?|imagine[sd]?|figure[sd]?|feel(?:s)?|call(?:s|ed)?|go(?:es)? for|"
    r"want(?:s|ed)? to)\b|\b(?:seen|see|saw|watched|watch) (?:(?:a|one|another) )?(?:people|folks|teams?|"
    r"engineers?|someone|somebody|others|colleagues?|companies|company)\b",
    re.I,
)
# Labels that tell of a belief; with REPORTED_BELIEF they rule out a match by wording too. "usually" and "not" do
# not: "switch to H100s, that's usually the quickest win" and "you only need a GPU request, it's not hard" assert.
TELLING_STEMS = frozenset(stem(w) for w in "common commonly classic myth".split())
# Brushing a practice aside ("canaries just slow the team down, so I'd skip them"): in an answer that asserts
# a misconception, such a sentence carries the wrong argument on, whatever practice it names.
DISMISSAL = re.compile(
    r"\b(?:(?<!to )slows?(?:ing)? (?:(?:every|each|all|our|the whole|the) )?(?:team|teams|us|you|things|everyone|"
    r"everybody|everything|releases?|deploy(?:ment)?s?|rollouts?|changes?|launch(?:es)?|shipping|iteration) down|"
    r"skip (?:it|them|that|this|those|these)|overkill|unnecessary|pointless|not worth|no need|"
    r"(?:don't|do not|doesn't|does not) (?:really )?need|don't bother|not needed|red tape|bureaucra\w*|"
    r"nobody (?:really )?needs|waste of time|more theory than|"
    # what the practice changes or adds, played down: "monitoring doesn't change much", "I'm not sure X adds much"
    r"(?:doesn't|does not|don't|do not|won't|will not) (?:really )?(?:change|add|affect)(?: much| anything)?|"
    r"adds? (?:little|nothing)|(?:not sure|doubt|don't think)\b[^.;]{0,90}\badds? (?:much|anything)|"
    r"(?:don't|do not|can't|cannot) see (?:the|much|any) (?:value|point)|rarely (?:a factor|matters?|needed)|"
    # the practice ruled out of the job: "review isn't really part of it", "lineage is somebody else's job"
    r"(?:isn't|is not|aren't|are not) (?:really |strictly )?(?:needed|necessary|required|the point|part of)|"
    r"(?:doesn't|does not|don't|do not) (?:really )?(?:fall under|belong)|(?:somebody|someone) else's "
    r"(?:job|problem|concern)|(?:wouldn't|won't|don't) (?:spend|waste) (?:time|effort)|"
    r"(?:don't|do not) think (?:you|we|i|they) (?:really )?need|stop worrying about|(?:a )?thing of the past|"
    r"without much (?:real )?(?:benefit|value|gain)|(?:wouldn't|won't|didn't|never) bother|"
    r"(?:don't|do not|wouldn't|won't|never) (?:really )?worry (?:much |too much |a lot )?about|"
    r"(?:doesn't|does not|don't|do not|won't|will not) move the needle|"
    r"(?:team|teams|admins?|folks|ops|department|sres?)(?:'s|') (?:job|problem|concern|responsibility)|"
    r"(?:would|will|just|only|mostly) slows? (?:\w+ ){0,2}(?:down|response|delivery|releases?|iteration|velocity))\b",
    re.I,
)
# Calling something a burden ("X is overhead / paperwork / overkill", "nobody reads it"): said of what the card
# recommends, it argues the mistake, whatever practice it names; said of the mistake, it is a warning.
DISMISSIVE = re.compile(
    r"\b(?:overkill|over-?engineer\w*|overthink\w*|paperwork|ceremony|red tape|bureaucra\w*|rabbit hole|"
    r"waste of (?:time|effort|money)|premature|pointless|unnecessary|not worth \w+|nice[- ]to[- ]have|"
    r"nobody (?:really )?(?:needs|reads|uses|looks at|cares about)|distract\w*|clutter|busywork|"
    r"(?:just|mostly|pure|all|only|expensive|optional) overhead|for little (?:gain|benefit|value|payoff)|"
    r"turns? into noise|"
    r"(?:is|are) (?:just |mostly |pure )?noise|(?:just|mostly|only) adds? (?:delay|friction)|to a crawl|"
    r"adds? (?:weeks|days|months|hours|lots|a lot) of (?:delay|friction)|crawl through|"
    r"(?<!don't )(?<!not )overcomplicat\w*|(?:is|are|'s|'re) (?:\S+ ){0,2}overhead|"
    r"(?:just|mostly|only) gets? in the way|(?:mostly|just|pure|all) (?:marketing|hype)|"
    r"(?:slows?|slowing) (?:(?:every|each|all|our|the whole|the) )?(?:team|teams|us|you|everyone|everybody|things|"
    r"releases?|deploy(?:ment)?s?|rollouts?|launch(?:es)?|shipping|iteration|delivery|development|engineers|people|"
    r"changes?) down|extra (?:work|effort|steps?|concepts?|complexity))\b",
    re.I,
)
# A dismissal that is hedged or weighed ("for a low-risk change it can be overkill", "safer but slows releases
# down") states a tradeoff, not the mistake (with an adversative after it: see hedged).
HEDGE = re.compile(
    r"\b(?:while|if|when|unless|depends?|depending|sometimes|can|could|may|might|trade-?offs?|risk\w*|small|low|"
    r"minor|simple)\b",
    re.I,
)
# A dismissal weighed as a tradeoff ("for one researcher it can be overkill"): HEDGE without the conditionals,
# since "if the new model wins offline, a canary is overkill" is the mistake itself.
WEIGHED = re.compile(
    r"\b(?:depends?|depending|sometimes|can|could|may|might|trade-?offs?|risk\w*|small|low|minor|simple|single|tiny|"
    r"toy|prototype|solo|hobby|one (?:researcher|person|developer|engineer|box|machine))\b",
    re.I,
)
# "slows releases down, but it catches regressions" weighs the dismissal; "useful for infrastructure changes, but
# for a model proven offline they just slow things down" lands on it: an adversative weighs only what comes before.
ADVERSATIVE = re.compile(r"\b(?:but|though|although|whereas|however|yet)\b", re.I)


def weighed(text: str, dismissal: re.Match[str]) -> bool:
    """Whether a dismissal in this text is weighed as a tradeoff (WEIGHED anywhere, or an adversative after it)."""
    return bool(WEIGHED.search(text) or ADVERSATIVE.search(text, dismissal.end()))


def hedged(text: str, dismissal: re.Match[str]) -> bool:
    """Whether a dismissal in this text is hedged (HEDGE anywhere, or an adversative after it)."""
    return bool(HEDGE.search(text) or ADVERSATIVE.search(text, dismissal.end()))


# Calling something enough, or all there is to the topic ("that's all it takes", "you're done", "it boils down to
# a shared table"): said of the mistake's practice it asserts the mistake, said of the card's it is the right view.
SUFFICIENCY = re.compile(
    r"\b(?:that's all (?:it takes|you need|we need|there is to it)|all (?:it|that) takes|"
    r"(?:you're|you are|we're|we are) (?:done|set|covered)|covers (?:it|everything)|"
    r"(?:you|we)(?: have|'ve) covered (?:it|everything)|"
    r"(?:is|are|'s|'re) (?:probably |usually |really |more than |plenty )?(?:enough|sufficient)|(?:is|are) plenty|"
    r"is handled|the only (?:one|thing|signal|metric|number)s? that (?:counts?|matters?)|"
    r"nothing else (?:is )?(?:needed|required|matters)|(?:comes|boils) down to|(?:nothing|little) more than|"
    r"covers (?:most of )?what matters|(?:really|basically|essentially|mostly) just)\b",
    re.I,
)
# A sentence that opens on what the one before said ("...; that's all it takes"): judged together with it.
ANAPHOR = re.compile(r"^\W*(?:(?:and|so|then|if it does)\W+)*(?:that|that's|this|this's|which|it|it's)\b", re.I)
# A label that makes the next sentence a warning too: "A common mistake is X. Another one is Y."
LABEL_STEMS = frozenset(
    stem(w) for w in "mistake mistakes pitfall pitfalls trap traps misconception antipattern misunderstanding".split()
)


# An answer may open on the question's subject without naming it, in a reduction: "It's basically a Postgres
# table" (what is a feature store?).
REDUCTION_WORDS = frozenset("just basically simply only mainly mostly really".split())
SUBJECT_PRONOUN = re.compile(r"^\W*(?:\w+\W+){0,3}?(?:it|it's|they|they're)\b", re.I)
# "much more than a folder of checkpoints" names the misconception to set the answer apart from it ("more than
# enough" does not).
CONTRAST = re.compile(
    r"\b(?:more than(?! enough)|beyond|other than|besides|rather than|"
    r"(?:(?:only|just) (?:one|a)|one) (?:piece|part|slice|layer|aspect|component|step) of|"
    # a limit set on the misconception's practice: "utilisation only tells you the service is busy"
    r"only (?:tells?|shows?|says?|proves?) (?:you|us)|prerequisite|not (?:a|the) (?:green light|whole (?:story|"
    r"picture)|full picture)|necessary but|not (?:just|only|merely))\b",
    re.I,
)


def sentence_stems(tokens: Sequence[Token]) -> set[str]:
    """The stems of a sentence's words, less the plain verb "care" (see PLAIN_CARE) and "slips through"
    (SLIP_VERB)."""
    return {
        t.stem
        for i, t in enumerate(tokens)
        if t.raw not in PLAIN_CARE
        and not (t.raw in SLIP_VERB and i + 1 < len(tokens) and tokens[i + 1].raw in ESCAPE_PARTICLES)
    }


def reporting_stems(span: Span, stems: set[str] | None = None) -> set[str]:
    """The sentence's stems that make it report a belief (REPORTING_STEMS), less habits the speaker owns."""
    stems = (sentence_stems(span.tokens) if stems is None else stems) & REPORTING_STEMS
    if not stems & HABIT_STEMS:
        return stems
    owned = set()
    for clause in CLAUSE_BREAK.split(span.text):
        seen_first_person = False
        for token in tokenize(clause or ""):
            seen_first_person = seen_first_person or token.raw in FIRST_PERSON
            if token.stem in HABIT_STEMS and seen_first_person:
                owned.add(token.stem)
            elif token.stem in HABIT_STEMS:
                return stems  # someone else's habit somewhere in the sentence
    return stems - owned
