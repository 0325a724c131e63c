"""The package's shape, checked statically: no import cycles, and imports flow one way.

    front ends (cli*, ui*)  →  coach (the pipeline)  →  parts (transcribe, grading, history, delivery, …)
                                                     →  foundation (content, config, errors)

The graph is built with `ast` from every module of src/infralens_coach: top-level imports and imports inside
functions alike, relative imports resolved. A failure names the cycle or the import that points the wrong way.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "infralens_coach"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE

FRONT_ENDS = ("cli", "ui")  # cli.py, cli_*.py, ui.py, ui_*.py: the terminal and the web app
PIPELINE = {"coach"}
FOUNDATION = {"", "config", "content", "errors"}  # "" is the package itself (its __init__: the version)
# Third-party libraries that only their one owner may import (heavy, or an edge of the system).
OWNERS = {
    "gradio": lambda m: m.startswith("ui"),
    # The LLM grader, and the speech-server engine (issue 17): litellm's chat and transcription calls, nowhere else.
    "litellm": lambda m: m in ("grading.llm", "transcribe.remote"),
    "snowballstemmer": lambda m: m == "grading.text",
    "sounddevice": lambda m: m == "recorder",
    "av": lambda m: m == "audio",
    "faster_whisper": lambda m: m.startswith("transcribe."),
    "ctranslate2": lambda m: m == "transcribe.faster_whisper",
    "whisper": lambda m: m == "transcribe.libraries",
    "torch": lambda m: m == "transcribe.openai_whisper",
    # The bucket recordings (issue 17): boto3 loads only when INFRALENS_RECORDINGS_BUCKET is set.
    "boto3": lambda m: m == "recordings",
    "botocore": lambda m: m == "recordings",
    "psycopg": lambda m: m in ("history", "history_sql"),  # the PostgreSQL history only
}
# What the storage layer keeps to itself: front ends open, list, read and delete; grading and keeping an attempt
# go through the Coach.
STORAGE_INTERNALS = {"new_attempt", "grade_and_save", "grade_and_keep"}
STORE_WRITES = {"save", "update_grade", "regrade"}


def modules() -> dict[str, Path]:
    """Module name relative to the package ("", "coach", "grading.llm", ...) -> file."""
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _package_of(name: str, path: Path) -> list[str]:
    parts = name.split(".") if name else []
    return parts if path.name == "__init__.py" else parts[:-1]


def imports(name: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """(imported module, line): our modules relative to the package, third-party ones as "ext:top-level name"."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield _classify(alias.name, known), node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(name, path)
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + (node.module.split(".") if node.module else []))
            elif node.module == PACKAGE or (node.module or "").startswith(PACKAGE + "."):
                target = (node.module or "").removeprefix(PACKAGE).lstrip(".")
            else:
                yield f"ext:{(node.module or '').split('.')[0]}", node.lineno
                continue
            for alias in node.names:  # `from . import x` / `from .a import b` may name submodules
                sub = f"{target}.{alias.name}" if target else alias.name
                yield (sub if sub in known else target), node.lineno


def _classify(dotted: str, known: set[str]) -> str:
    if dotted == PACKAGE or dotted.startswith(PACKAGE + "."):
        rel = dotted.removeprefix(PACKAGE).lstrip(".")
        return rel if rel in known else rel.rsplit(".", 1)[0]
    return f"ext:{dotted.split('.')[0]}"


def graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: first line}, our modules and "ext:..." libraries."""
    mods = modules()
    edges: dict[str, dict[str, int]] = {}
    for name, path in mods.items():
        out = edges.setdefault(name, {})
        for target, line in imports(name, path, set(mods)):
            if target != name:
                out.setdefault(target, line)
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The cycles among our modules, each as a closed path: for every module on one, the shortest through it."""
    found: dict[frozenset[tuple[str, str]], list[str]] = {}
    for start in sorted(edges):
        path = _shortest_cycle(start, edges)
        if path:
            found.setdefault(frozenset(zip(path, path[1:], strict=False)), path)
    return sorted(found.values(), key=lambda p: (len(p), p))


def _shortest_cycle(start: str, edges: dict[str, dict[str, int]]) -> list[str] | None:
    """Breadth first from `start` back to it, through our modules only."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(edges.get(node, {})):
            if nxt == start:
                return paths[node] + [start]
            if not nxt.startswith("ext:") and nxt not in paths:
                paths[nxt] = paths[node] + [nxt]
                queue.append(nxt)
    return None


def layer(module: str) -> int:
    top = module.split(".")[0]
    if module in FOUNDATION:
        return 0
    if top in FRONT_ENDS or top.startswith(tuple(f"{f}_" for f in FRONT_ENDS)):
        return 3
    if top in PIPELINE:
        return 2
    return 1  # the parts: transcribe, grading, history, delivery, audio, render, ...


LAYER_NAMES = {0: "foundation", 1: "part", 2: "pipeline", 3: "front end"}


def shown(module: str) -> str:
    return f"{PACKAGE}.{module}" if module else PACKAGE


# ---------------------------------------------------------------- the graph itself


def test_the_graph_sees_relative_absolute_and_function_level_imports():
    edges = graph()
    assert "content" in edges["coach"] and "config" in edges["coach"]  # from .content import ...
    assert "grading.llm" in edges["grading.chain"]  # inside build_grader
    assert "ext:litellm" in edges["grading.llm"]  # inside load_litellm
    assert "transcribe" in edges["coach"]  # `from . import transcribe` names the subpackage


def test_the_cycle_finder_names_a_cycle():
    edges = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "ext:x": 1}, "d": {"a": 1, "e": 1}, "e": {"d": 1}}
    assert cycles(edges) == [["d", "e", "d"], ["a", "b", "c", "a"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []


# ---------------------------------------------------------------- the rules


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(" → ".join(shown(m) for m in c) for c in found)


def test_imports_flow_from_front_ends_through_the_coach_to_the_parts():
    edges = graph()
    wrong = [
        f"{shown(m)} ({LAYER_NAMES[layer(m)]}) imports {shown(t)} ({LAYER_NAMES[layer(t)]}), line {line}"
        for m, out in edges.items() for t, line in out.items()
        if not t.startswith("ext:") and layer(t) > layer(m)
    ]  # fmt: skip
    assert not wrong, "imports against the direction front ends → coach → parts → foundation:\n" + "\n".join(wrong)


def test_heavy_and_edge_libraries_have_one_owner():
    edges = graph()
    wrong = [
        f"{shown(m)} imports {lib} (line {line})"
        for m, out in edges.items() for t, line in out.items()
        for lib, owns in OWNERS.items() if t == f"ext:{lib}" and not owns(m)
    ]  # fmt: skip
    assert not wrong, "\n".join(wrong)
    assert "ext:gradio" in edges["ui"] and "ext:litellm" in edges["grading.llm"]  # the rule is not vacuous
    assert "ext:litellm" in edges["transcribe.remote"] and "ext:boto3" in edges["recordings"]
    assert [m for m in edges if "ext:litellm" in edges[m]] == ["grading.llm", "transcribe.remote"]  # exactly two


def test_front_ends_grade_and_keep_only_through_the_coach():
    """No front end builds or grades attempts itself: it opens the store to read, and asks the Coach to grade."""
    mods = modules()
    wrong = []
    for name in sorted(m for m in mods if layer(m) == 3):
        tree = ast.parse(mods[name].read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith(("history", "attempt")):
                wrong += [f"{name}:{node.lineno} imports {a.name}" for a in node.names if a.name in STORAGE_INTERNALS]
            called = node.func if isinstance(node, ast.Call) else None
            if isinstance(called, ast.Attribute):  # coach.submit / coach.regrade are the way
                owner = ast.unparse(called.value)
                if ("store" in owner and called.attr in STORE_WRITES) or ("grader" in owner and called.attr == "grade"):
                    wrong.append(f"{name}:{node.lineno} calls {owner}.{called.attr}(...)")
    assert not wrong, "front ends reaching past the Coach:\n" + "\n".join(wrong)


@pytest.mark.slow
def test_loading_a_reference_only_pack_imports_no_grading_and_no_stemmer(tmp_path):
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "q.yaml").write_text(
        textwrap.dedent("""\
        card: 101
        id: readiness
        question: What is a readiness probe for?
        reference_answer: >-
          A readiness probe tells Kubernetes when a pod can take traffic. A common mistake is to use the
          liveness probe for this.
        """)
    )
    code = (
        "import sys; from pathlib import Path; from infralens_coach.content import QuestionBank;"
        f"bank = QuestionBank.load([Path({str(pack)!r})]); assert bank.get('readiness').derived;"
        "print(sorted(m for m in sys.modules if m.startswith(('infralens_coach.grading', 'snowballstemmer'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- configuration and leftovers

# Modules that touch os.environ for a third-party library's own variables, never for our settings.
ENV_FOR_LIBRARIES = {
    "grading.llm": "LITELLM_* switches before litellm loads; whether OPENAI_API_KEY is set (a local server needs none)",
    "grading.provider_errors": "provider keys (*_KEY, *_TOKEN...), read only to redact their values from messages",
    "transcribe.models": "HF_HUB_OFFLINE and XDG_CACHE_HOME, as the model hubs read them",
    "transcribe.remote": "OPENAI_API_KEY, as the OpenAI client reads it (a placeholder for a keyless local server)",
    "ui": "GRADIO_ANALYTICS_ENABLED before gradio loads",
}


def test_only_config_reads_our_settings_from_the_environment():
    """config.Settings.from_env is the one place; everything else receives Settings (or reads a library's variable)."""
    mods = modules()
    wrong = []
    for name, path in mods.items():
        if name == "config":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            text = ast.unparse(node) if isinstance(node, ast.Attribute) else ""
            if text in ("os.environ", "os.getenv") and name not in ENV_FOR_LIBRARIES:
                wrong.append(f"{shown(name)}:{node.lineno} reads {text}")
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("user_dir"):
                wrong.append(f"{shown(name)}:{node.lineno} calls user_dir() (use settings.data_dir)")
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("from_env") and layer(name) < 3:
                wrong.append(f"{shown(name)}:{node.lineno} calls {ast.unparse(node.func)}() (receive Settings)")
    assert not wrong, "\n".join(wrong)


def test_the_leftovers_are_gone():
    from infralens_coach import coach, history, transcribe

    assert not hasattr(coach.Coach, "grade")  # dead: front ends call submit
    assert not hasattr(transcribe, "engine_names")
    assert not hasattr(history.HistoryStore, "score_series")  # progress.score_series is the one
    assert not hasattr(history, "grade_and_save")  # the Coach keeps attempts
    graders = (SRC / "evaluation" / "graders.py").read_text(encoding="utf-8")
    assert "importlib" not in graders  # grading.chain is part of the package, not an optional extra
    ui_sources = "".join(p.read_text(encoding="utf-8") for p in SRC.glob("ui*.py"))
    from infralens_coach.progress import CHECKLIST_INTRO

    assert CHECKLIST_INTRO not in ui_sources  # the web app shows progress.CHECKLIST_INTRO, not a copy
