"""The question bank and the rubric: load YAML, validate, and say exactly what is wrong where.

A pack is a directory of one-card YAML files (format: docs/content-format.md). Errors name the file, the
field and the problem, so a user fixing their own pack never has to read a traceback.

Pure data: a card with only a reference answer keeps no points here; the grading layer derives them when it
grades (grading.derive.points_of), so loading the bank imports no grader and no stemmer.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ContentError, UnknownQuestionError

DIMENSIONS: tuple[str, ...] = ("mechanism", "why_it_matters", "tradeoffs", "common_mistake", "related_lab")
DIMENSION_NAMES = {
    "mechanism": "Mechanism",
    "why_it_matters": "Why it matters",
    "tradeoffs": "Tradeoffs",
    "common_mistake": "Common mistake",
    "related_lab": "Related lab / handbook",
}
GROUPS: dict[str, str] = {
    "define-and-contrast": "Define a term precisely and set it against its neighbour",
    "explain-the-why": "Say what a practice or component is for and what breaks without it",
    "debug-and-operate": "Walk through localising and fixing a production problem",
    "observe-and-alert": "Choose signals, monitors and alerts for a live system",
    "design-a-tradeoff": "Weigh options and say when each one wins",
}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
MIN_FOLLOW_UPS, MAX_FOLLOW_UPS = 2, 4  # authored follow-up probes per dimension


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Point(_Strict):
    id: str
    text: str = Field(min_length=1)
    phrases: tuple[str, ...] = Field(min_length=1)

    @field_validator("phrases")
    @classmethod
    def _phrases_not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for phrase in value:
            if not str(phrase).strip() or any(not part.strip() for part in str(phrase).split("&")):
                raise ValueError(f"empty phrase or phrase part in {phrase!r}")
        return value


class Misconception(Point):
    # Other ways a candidate states the same wrong belief, in their own words: a sentence near one of them
    # asserts it by meaning (its `phrases` catch it by wording).
    claims: tuple[str, ...] = ()

    @field_validator("claims")
    @classmethod
    def _claims_not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not str(claim).strip() for claim in value):
            raise ValueError("empty claim")
        return value


class Source(_Strict):
    name: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://\S+$")


class Table(_Strict):
    title: str
    columns: tuple[str, ...] = Field(min_length=1)
    rows: tuple[tuple[str, ...], ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _rows_match_columns(self) -> Table:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"row {i} has {len(row)} cells, the table has {len(self.columns)} columns")
        return self


class RelatedLab(_Strict):
    module: str
    title: str
    exercise: str
    url: str | None = None


class Question(_Strict):
    card: int = Field(ge=1)
    id: str
    question: str = Field(min_length=1)
    group: str | None = None
    module: str | None = None
    inspiration: str | None = None
    short_answer: str | None = None
    deeper_explanation: str | None = None
    common_mistake: str | None = None
    reference_answer: str | None = None
    sources: tuple[Source, ...] = ()
    tables: tuple[Table, ...] = ()
    related_lab: RelatedLab | None = None
    vocabulary: tuple[str, ...] = ()
    weights: dict[str, float] = Field(default_factory=dict)
    points: dict[str, tuple[Point, ...]] = Field(default_factory=dict)
    misconceptions: tuple[Misconception, ...] = ()
    # Probes a mock interviewer asks after an answer, per dimension (2-4 each; required on the built-in cards).
    follow_ups: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # Set by the loader, not by the file.
    path: str = ""

    @field_validator("id")
    @classmethod
    def _id_is_slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("must be a slug of lower-case letters, digits and hyphens")
        return value

    @field_validator("group")
    @classmethod
    def _known_group(cls, value: str | None) -> str | None:
        if value is not None and value not in GROUPS:
            raise ValueError(f"unknown group {value!r}; expected one of {', '.join(GROUPS)}")
        return value

    @field_validator("weights")
    @classmethod
    def _weights_valid(cls, value: dict[str, float]) -> dict[str, float]:
        for dim, weight in value.items():
            if dim not in DIMENSIONS:
                raise ValueError(f"unknown dimension {dim!r}; expected one of {', '.join(DIMENSIONS)}")
            if weight < 0:
                raise ValueError(f"weight of {dim} is negative ({weight})")
        return value

    @field_validator("points")
    @classmethod
    def _points_valid(cls, value: dict[str, tuple[Point, ...]]) -> dict[str, tuple[Point, ...]]:
        for dim, points in value.items():
            if dim not in DIMENSIONS:
                raise ValueError(f"unknown dimension {dim!r}; expected one of {', '.join(DIMENSIONS)}")
            if not points:
                raise ValueError(f"dimension {dim!r} has no points")
        return value

    @field_validator("follow_ups")
    @classmethod
    def _follow_ups_valid(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        if not value:
            return value  # optional on a pack card
        seen: set[str] = set()
        for dim, probes in value.items():
            if dim not in DIMENSIONS:
                raise ValueError(f"unknown dimension {dim!r}; expected one of {', '.join(DIMENSIONS)}")
            if not MIN_FOLLOW_UPS <= len(probes) <= MAX_FOLLOW_UPS:
                raise ValueError(f"{dim} has {len(probes)} follow-up(s); give {MIN_FOLLOW_UPS} to {MAX_FOLLOW_UPS}")
            for probe in probes:
                key = " ".join(str(probe).lower().split())
                if not key:
                    raise ValueError(f"{dim}: empty follow-up")
                if key in seen:
                    raise ValueError(f"{dim}: duplicate follow-up {probe!r}")
                seen.add(key)
        missing = [d for d in DIMENSIONS if d not in value]
        if missing:
            raise ValueError(f"no follow-ups for: {', '.join(missing)} (give all five dimensions, or none)")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Question:
        if not self.points and not self.reference_text:
            raise ValueError("needs either `points` or a reference answer (`reference_answer` or `short_answer`)")
        if self.points:
            missing = [d for d in DIMENSIONS if d not in self.points]
            if missing:
                raise ValueError(f"points: dimension(s) with no points: {', '.join(missing)}")
        for kind, ids in (
            ("point", [p.id for pts in self.points.values() for p in pts]),
            ("misconception", [m.id for m in self.misconceptions]),
        ):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"duplicate {kind} id(s): {', '.join(dupes)}")
        return self

    @property
    def derived(self) -> bool:
        """True when the card has no points of its own: graders derive them from its reference answer."""
        return not self.points

    @property
    def reference_text(self) -> str:
        """The model answer as one text: the explicit reference, else short answer + deeper explanation."""
        if self.reference_answer:
            return self.reference_answer.strip()
        return " ".join(p.strip() for p in (self.short_answer, self.deeper_explanation) if p)

    def reference_sections(self) -> list[tuple[str, str]]:
        """The card's reference texts with their titles, in reading order; empty ones left out."""
        sections = (
            ("Short answer", self.short_answer),
            ("Deeper explanation", self.deeper_explanation),
            ("Reference answer", self.reference_answer),
            ("Common mistake", self.common_mistake),
        )
        return [(title, text) for title, text in sections if text]

    @property
    def title(self) -> str:
        return f"{self.card:02d} · {self.question}"

    def dimension_weight(self, rubric: Rubric, dimension: str) -> float:
        if dimension in self.weights:
            return self.weights[dimension]
        return rubric.dimension(dimension).weight

    def version(self, rubric: Rubric) -> str:
        """A short hash of this card and the rubric: grades are comparable only within one version."""
        # "derived" was a stored field once: kept in the payload so the cards' versions do not change.
        # Follow-ups are left out: they do not change how an answer to the card is graded.
        card = {**self.model_dump(mode="json", exclude={"path", "follow_ups"}), "derived": self.derived}
        payload = json.dumps([card, rubric.model_dump(mode="json")], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


class Dimension(_Strict):
    id: Literal["mechanism", "why_it_matters", "tradeoffs", "common_mistake", "related_lab"]
    name: str
    description: str
    weight: float = Field(ge=0)
    levels: dict[int, str]

    @field_validator("levels")
    @classmethod
    def _levels_0_to_4(cls, value: dict[int, str]) -> dict[int, str]:
        if sorted(value) != [0, 1, 2, 3, 4]:
            raise ValueError("needs a descriptor for each level 0, 1, 2, 3 and 4")
        return value


class Rubric(_Strict):
    name: str
    description: str = ""
    dimensions: tuple[Dimension, ...]

    @model_validator(mode="after")
    def _all_five(self) -> Rubric:
        ids = [d.id for d in self.dimensions]
        if sorted(ids) != sorted(DIMENSIONS) or len(ids) != len(DIMENSIONS):
            raise ValueError(f"needs each of the five dimensions exactly once: {', '.join(DIMENSIONS)}")
        if sum(d.weight for d in self.dimensions) <= 0:
            raise ValueError("dimension weights add up to zero")
        return self

    def dimension(self, dim_id: str) -> Dimension:
        for dim in self.dimensions:
            if dim.id == dim_id:
                return dim
        raise KeyError(dim_id)


# ---------------------------------------------------------------- loading


def builtin_questions_dir() -> Path:
    return Path(str(resources.files("infralens_coach") / "data" / "questions"))


def builtin_rubric_path() -> Path:
    return Path(str(resources.files("infralens_coach") / "data" / "rubrics" / "default.yaml"))


# libyaml's safe loader when PyYAML was built with it: the same data, ~10x faster (0.42 s -> 0.04 s for the
# 20 cards), so every CLI command and test that loads the bank starts sooner.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path}: cannot read file ({exc})") from exc
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ContentError(f"{path}: YAML syntax error{where}: {problem}") from exc


def _describe(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"]) or "(file)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "required field is missing"
        lines.append(f"{path}: {loc}: {msg}")
    return "\n".join(lines)


def load_rubric(path: Path | None = None) -> Rubric:
    path = path or builtin_rubric_path()
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ContentError(f"{path}: (file): expected a mapping of rubric fields")
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise ContentError(_describe(path, exc)) from exc


def load_question(path: Path, *, require_follow_ups: bool = False) -> Question:
    """One card file; `require_follow_ups` (the built-in bank) makes the follow-up probes mandatory."""
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ContentError(f"{path}: (file): expected a mapping of question fields, got {type(data).__name__}")
    for reserved in ("path", "derived"):
        if reserved in data:
            raise ContentError(f"{path}: {reserved}: unknown field")
    try:
        question = Question.model_validate({**data, "path": str(path)})
    except ValidationError as exc:
        raise ContentError(_describe(path, exc)) from exc
    if require_follow_ups and not question.follow_ups:
        raise ContentError(f"{path}: follow_ups: required on a built-in card (2-4 probes for each of five dimensions)")
    return question


@dataclass(frozen=True)
class QuestionBank:
    questions: tuple[Question, ...]
    rubric: Rubric

    @classmethod
    def load(
        cls, extra_dirs: Sequence[Path] = (), *, include_builtin: bool = True, rubric_path: Path | None = None
    ) -> QuestionBank:
        """Load the built-in bank plus any packs; every problem in every file is reported at once."""
        dirs = ([builtin_questions_dir()] if include_builtin else []) + [Path(d) for d in extra_dirs]
        problems: list[str] = []
        questions: list[Question] = []
        for directory in dirs:
            try:
                questions.extend(_load_dir(directory, problems, seed=include_builtin and directory == dirs[0]))
            except ContentError as exc:
                problems.append(str(exc))
        problems.extend(_duplicates(questions))
        try:
            rubric = load_rubric(rubric_path)
        except ContentError as exc:
            problems.append(str(exc))
        if problems:
            raise ContentError("\n".join(problems))
        questions.sort(key=lambda q: q.card)
        return cls(tuple(questions), rubric)

    def get(self, ref: str | int) -> Question:
        """A card by number (7, "7", "07") or by id."""
        key = str(ref).strip()
        for q in self.questions:
            if q.id == key.lower() or (key.isdigit() and int(key) == q.card):
                return q
        raise UnknownQuestionError(
            f"unknown card {key!r}: use a card number (1-{max((q.card for q in self.questions), default=0)}) "
            "or an id from `infralens-coach questions`"
        )

    def in_group(self, group: str) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.group == group)


def _load_dir(directory: Path, problems: list[str], *, seed: bool = False) -> Iterable[Question]:
    if not directory.is_dir():
        raise ContentError(f"{directory}: not a directory of question files")
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))
    if not files:
        raise ContentError(f"{directory}: no .yaml question files in this directory")
    for path in files:
        try:
            yield load_question(path, require_follow_ups=seed)
        except ContentError as exc:
            problems.append(str(exc))


def _duplicates(questions: Sequence[Question]) -> list[str]:
    problems = []
    seen_card: dict[int, str] = {}
    seen_id: dict[str, str] = {}
    for q in questions:
        if q.card in seen_card:
            problems.append(f"{q.path}: card: duplicate card number {q.card} (also in {seen_card[q.card]})")
        else:
            seen_card[q.card] = q.path
        if q.id in seen_id:
            problems.append(f"{q.path}: id: duplicate id {q.id!r} (also in {seen_id[q.id]})")
        else:
            seen_id[q.id] = q.path
    return problems
