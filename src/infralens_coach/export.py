"""History exports: JSON and CSV that read back into the same attempts, and a Markdown report to read.

JSON is a list of Attempt.to_dict(). CSV has one row per attempt: flat columns for spreadsheets (scores per
dimension, overall, grader, transcript) followed by the JSON columns that make it lossless.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from .attempt import Attempt
from .content import DIMENSIONS

FORMATS = ("csv", "json", "md")
_FLAT = ("id", "created_utc", "card", "question_id", "question_version", "mode", "state", "ungraded_reason",
         "overall", "decided_by", "fallback_reason")  # fmt: skip
_TAIL = ("engine", "model", "duration_s", "speech_s", "transcribe_s", "grade_s", "graded_utc", "audio_path",
         "audio_source", "app_version", "transcript", "transcript_raw")  # fmt: skip
_JSON = ("segments", "metrics", "grade")
CSV_COLUMNS = (
    _FLAT + tuple(f"{d}_score" for d in DIMENSIONS) + ("misconceptions",) + _TAIL + tuple(f"{k}_json" for k in _JSON)
)


def to_json(attempts: Iterable[Attempt]) -> str:
    return json.dumps([a.to_dict() for a in attempts], ensure_ascii=False, indent=2) + "\n"


def read_json(text: str) -> list[Attempt]:
    return [Attempt.from_dict(d) for d in json.loads(text)]


def to_csv(attempts: Iterable[Attempt]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for a in attempts:
        data = a.to_dict()
        row = {k: getattr(a, k) for k in _FLAT + _TAIL}
        scores = a.scores()
        row.update({f"{d}_score": scores[d][0] if d in scores else "" for d in DIMENSIONS})
        row["misconceptions"] = " | ".join(m["text"] for m in (a.grade or {}).get("misconceptions", []))
        row.update({f"{k}_json": "" if data[k] is None else json.dumps(data[k], ensure_ascii=False) for k in _JSON})
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def read_csv(text: str) -> list[Attempt]:
    """Back from to_csv(): the JSON columns restore the nested data, the rest is typed from the dataclass."""
    attempts = []
    for row in csv.DictReader(io.StringIO(text)):
        data: dict[str, Any] = {k: (None if row[k] == "" else row[k]) for k in _FLAT + _TAIL}
        data["transcript"], data["transcript_raw"] = row["transcript"], row["transcript_raw"]
        for key in ("overall", "decided_by", "fallback_reason"):
            data.pop(key)
        data["card"] = int(data["card"])
        for key in ("duration_s", "speech_s", "transcribe_s", "grade_s"):
            data[key] = None if data[key] is None else float(data[key])
        for key in _JSON:
            data[key] = json.loads(row[f"{key}_json"]) if row[f"{key}_json"] else None
        data["segments"] = data["segments"] or []
        attempts.append(Attempt.from_dict(data))
    return attempts


def to_markdown(attempts: Iterable[Attempt]) -> str:
    lines = ["# infralens-coach history", ""]
    for a in attempts:
        lines += [f"## Card {a.card:02d} · {a.question_id} · {a.created_utc}", "", f"- id: `{a.id}`",
                  f"- mode: {a.mode}" + (f" ({a.engine}, {a.model})" if a.engine else "")]  # fmt: skip
        if not a.graded or a.grade is None:  # a graded attempt always carries its grade
            lines += [f"- **ungraded**: {a.ungraded_reason}"]
        else:
            lines += [f"- overall: **{a.overall}/100** (graded by {a.decided_by})", "",
                      "| dimension | score | covered | missing |", "| --- | --- | --- | --- |"]  # fmt: skip
            for d in a.grade["dimensions"]:
                score = f"{d['score']}/{d['max_score']}" if d["max_score"] else "not assessed"
                cells = ["; ".join(d.get(k, [])).replace("|", "\\|") for k in ("covered", "missing")]
                lines.append(f"| {d['id']} | {score} | {cells[0]} | {cells[1]} |")
            for m in a.grade["misconceptions"]:
                lines.append(f"\n> Misconception: {m['text']}")
        quoted = "\n".join(f"> {line}" if line else ">" for line in a.transcript.strip().splitlines())
        lines += ["", "Transcript:", "", quoted, ""]
    return "\n".join(lines)


def export(attempts: Iterable[Attempt], fmt: str) -> str:
    return {"csv": to_csv, "json": to_json, "md": to_markdown}[fmt](list(attempts))
