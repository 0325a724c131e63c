"""Words students use for a key's words: "looks at the top item but doesn't pop it" says what "returns the top
element without removing it" says, and shares none of its key words.

Each group is one meaning in how course answers are written (eval/README.md, follow-up 10). A word is in one group
only, and a group holds no word that is often used in another sense in these answers: "link" is not "pointer" (a
linked list has both), "value" is not "element" ("by value"), "location" is not "address" (its stem is "locate"'s),
and "get" and "set" are function words anyway.
Only the word share of points derived from an answer key reads them (coverage.word_share); a card's points keep
their phrases and their exact key words.
"""

from __future__ import annotations

from functools import lru_cache

from .text import stem

GROUPS = """
remove delete erase eliminate pop discard
insert add put append push
element item entry
return give retrieve fetch obtain
look see view peek examine inspect check
store hold keep contain save
change modify alter update
find search locate
traverse walk visit
start begin
end finish
function method procedure routine subroutine
run execute
error bug fault mistake
size length
fast quick
big large
small little
free deallocate release
allocate reserve
order sort arrange
copy duplicate
call invoke
parameter argument
number count amount quantity
node vertex
grow expand increase
shrink decrease reduce
data information
whole entire
memory storage
finite bounded
variable identifier
simulate mimic imitate
limit restrict
"""


# Opposites sit close in meaning to a sentence-embedding model (both name the same scale), so a word near a key
# word by meaning (key_words.py) is never its opposite: "bottom" says nothing of "top". One pair of sides a line.
OPPOSITES = """
top | bottom
first | last
head | tail
front | rear back
min minimum smallest lowest | max maximum largest biggest highest
grow | shrink
ascending | descending
before | after
left | right
parent | child
insert enqueue | remove dequeue
start | end
allocate | free
open | close
upper | lower
input | output
read | write
local | global
public | private
static | dynamic
best | worst
true | false
prefix | postfix
preorder | postorder
inner | outer
lifo | fifo
stack | queue
breadth | depth
sorted | unsorted
"""


@lru_cache(maxsize=1)
def _opposites() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for line in OPPOSITES.strip().splitlines():
        left, right = ({canonical(stem(word)) for word in side.split()} for side in line.split("|"))
        for word in left:
            table.setdefault(word, set()).update(right)
        for word in right:
            table.setdefault(word, set()).update(left)
    return {word: frozenset(others) for word, others in table.items()}


def opposites(word_stem: str) -> frozenset[str]:
    """The groups (canonical stems) opposite to this stem's: "pop" -> {"insert"} (push's group)."""
    return _opposites().get(canonical(word_stem), frozenset())


def opposite(stem_a: str, stem_b: str) -> bool:
    """Whether the two stems (or their groups) are opposites ("pop" and "push", "bottom" and "top")."""
    return canonical(stem_b) in opposites(stem_a)


@lru_cache(maxsize=1)
def _canonical() -> dict[str, str]:
    table: dict[str, str] = {}
    for line in GROUPS.strip().splitlines():
        stems = [stem(word) for word in line.split()]
        for s in stems:
            assert s not in table, f"{s} is in two synonym groups"
            table[s] = stems[0]
    return table


def canonical(word_stem: str) -> str:
    """The stem that stands for this stem's group (itself when it has none)."""
    return _canonical().get(word_stem, word_stem)
