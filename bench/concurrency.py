"""Many learners at once: simultaneous 60 s answers, each transcribed and graded through the web app.

    python bench/concurrency.py                                   # the whole matrix (2 x 2 x 2 runs), 15-30 min
    python bench/concurrency.py --learners 8 --stt remote --db sqlite,postgresql
    python bench/concurrency.py --stt local --learners 8 --timeout-s 1200     # a busy machine

The matrix: {local Whisper, remote fake STT} x {SQLite, PostgreSQL} x {8, 32 learners}. Each learner is a
gradio_client thread: /transcribe a 60 s espeak-ng answer, then /grade its transcript (which keeps the attempt). All
start together (a barrier; clients are connected beforehand). One app per (STT, database) pair: the real
`python app.py` in a subprocess on loopback, its home under ~/.cache (removed afterwards), warmed up with one
answer before the clock starts; each learner count then runs against it.

  local       the app's own Whisper (tiny.en, the offline default) transcribes, on this machine's cores
  remote      INFRALENS_STT_API_BASE points at a fake OpenAI-compatible STT server (tests/support/fake_stt.py)
              that holds every reply --stt-delay seconds: a serving engine on its own hardware stands in for it
  sqlite      the history in the app's home; postgresql: a fresh database on a server started here the way the
              tests start it (tests/support/postgres.py: Debian's postgresql, a free loopback port, no docker)
  --before    adds the queue as it was before INFRALENS_CONCURRENCY (one event of a kind at a time), SQLite only

Per run: p50/p95 latency per learner (transcribe + grade), throughput (graded answers a minute over the run's
wall time), and the attempts: graded replies sent, rows counted in the database afterwards, lost (a reply named an
attempt the database does not have), timeouts (no reply within --timeout-s: reported as such, not as lost; a
timed-out grade that lands later is counted) and fallbacks (the remote engine failed and the app transcribed
itself). Then the ratios: remote/local, postgresql/sqlite, 32/8 (x < 1 for latency: the first is faster).
Everything ends by itself: a learner gives up after --timeout-s per request, and the apps, the fake server and
PostgreSQL are stopped.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import itertools
import os
import sqlite3
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from gradio_client import Client, handle_file  # noqa: E402
from support import clips  # noqa: E402
from support.app_server import AppServer, outside_home  # noqa: E402
from support.fake_stt import FakeSTT  # noqa: E402

CARD = "k8s-job-vs-deployment"
STTS, DBS = ("local", "remote"), ("sqlite", "postgresql")
FALLBACK_NOTE = "Transcribed on this machine"  # the delivery notes when the remote engine failed
DRAIN_S = 120.0  # after a run with timeouts: how long the requests still in the app may take to land


@dataclass
class Answer:
    """One learner's answer: how long each step took, or how it ended."""

    transcribe_s: float | None = None
    total_s: float | None = None
    attempt_id: str | None = None  # as the /grade reply names it
    sent: bool = False  # /grade was sent (its attempt should be in the database)
    timed_out: str | None = None  # the step that got no reply in time
    error: str | None = None
    fell_back: bool = False
    end: float | None = None


@dataclass
class Run:
    stt: str
    db: str
    learners: int
    answers: list[Answer]
    wall_s: float
    counted: int  # rows the run added to the attempts table
    missing: int  # graded replies whose attempt is not in the database
    load: tuple[float, float, float]
    before: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{'before-' if self.before else ''}{self.stt}-{self.db}"

    @property
    def latencies_s(self) -> list[float]:
        return sorted(a.total_s for a in self.answers if a.total_s is not None)

    @property
    def sent(self) -> int:
        return sum(a.sent for a in self.answers)

    @property
    def timeouts(self) -> int:
        return sum(a.timed_out is not None for a in self.answers)

    @property
    def failed(self) -> int:
        return sum(a.error is not None for a in self.answers)

    def pct(self, q: float) -> float:
        xs = self.latencies_s
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]

    @property
    def per_minute(self) -> float:
        return len(self.latencies_s) / self.wall_s * 60 if self.wall_s else 0.0

    @property
    def transcribe_p50_s(self) -> float:
        done = [a.transcribe_s for a in self.answers if a.transcribe_s is not None]
        return statistics.median(done) if done else float("nan")


# ---------------------------------------------------------------- the learners


def saved_attempt(grade_outputs: Any) -> str | None:
    """The attempt id the /grade reply names (its "saved" pane: ... `<id>` ...)."""
    saved = str(grade_outputs[4])
    return saved.split("`")[1] if saved.count("`") >= 2 else None


def learner(client: Client, clip: str, start: threading.Barrier, timeout_s: float, out: Answer) -> None:
    start.wait()
    began = time.perf_counter()
    step = "transcribe"
    try:
        text, metrics = client.submit(CARD, handle_file(clip), api_name="/transcribe").result(timeout=timeout_s)
        out.transcribe_s = time.perf_counter() - began
        out.fell_back = FALLBACK_NOTE in str(metrics)
        step, out.sent = "grade", True
        reply = client.submit(CARD, text, api_name="/grade").result(timeout=timeout_s)
        out.total_s = time.perf_counter() - began
        out.attempt_id = saved_attempt(reply)
    except concurrent.futures.TimeoutError:
        out.timed_out = step
    except Exception as exc:  # the bench reports every failure; it never stops at one
        out.error = f"{step}: {type(exc).__name__}: {str(exc)[:160]}"
    out.end = time.perf_counter()


def load(url: str, clip: str, n: int, timeout_s: float) -> tuple[list[Answer], float]:
    clients = [Client(url, verbose=False) for _ in range(n)]  # connected before the clock starts
    barrier = threading.Barrier(n + 1)
    answers = [Answer() for _ in range(n)]
    threads = [
        threading.Thread(target=learner, args=(c, clip, barrier, timeout_s, a), daemon=True)
        for c, a in zip(clients, answers, strict=True)
    ]
    for th in threads:
        th.start()
    barrier.wait()
    began = time.perf_counter()
    deadline = began + 2 * timeout_s + 30  # two requests each, then the threads are left (daemons)
    for th in threads:
        th.join(max(0.0, deadline - time.perf_counter()))
    for a in answers:
        if a.end is None and a.timed_out is None and a.error is None:
            a.timed_out = "no reply at all"
    ends = [a.end for a in answers if a.end is not None]
    return answers, (max(ends) - began) if ends else 0.0


# ---------------------------------------------------------------- the databases


class History:
    """Counts attempts in the app's history: SQLite in its home, or its PostgreSQL database."""

    def __init__(self, home: Path, database_url: str | None) -> None:
        self.home, self.database_url = home, database_url

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.database_url:
            import psycopg

            with psycopg.connect(self.database_url) as conn:
                return [tuple(r) for r in conn.execute(sql.replace("?", "%s"), params).fetchall()]
        with contextlib.closing(sqlite3.connect(self.home / "history.db", timeout=30)) as db:
            return [tuple(r) for r in db.execute(sql, params).fetchall()]

    def count(self) -> int:
        return int(self._rows("SELECT count(*) FROM attempts")[0][0])

    def missing(self, ids: list[str]) -> int:
        found = {str(r[0]) for r in self._rows("SELECT id FROM attempts")}
        return sum(1 for i in ids if i not in found)

    def settle(self, expected: int, before: int, wait_s: float) -> int:
        """The run's rows once the requests still in the app have landed (at most `wait_s`)."""
        deadline = time.monotonic() + wait_s
        counted = self.count() - before
        while counted < expected and time.monotonic() < deadline:
            time.sleep(2)
            counted = self.count() - before
        return counted


@contextlib.contextmanager
def postgres(wanted: bool) -> Iterator[Any | None]:
    """The tests' PostgreSQL helper (a server of its own, stopped afterwards), or None when not wanted or when it
    cannot start here (said so; the SQLite runs still run)."""
    if not wanted:
        yield None
        return
    try:
        from support.postgres import shared_server

        server = shared_server()
    except BaseException as exc:  # pytest.fail/skip raise BaseException subclasses
        if isinstance(exc, KeyboardInterrupt):
            raise
        print(f"PostgreSQL unavailable ({str(exc).splitlines()[0][:160]}): SQLite only", flush=True)
        yield None
        return
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- one app, its learner counts


def run_app(
    stt: str, db: str, learners: list[int], clip: str, args: argparse.Namespace, engine: FakeSTT | None, pg: Any
) -> list[Run]:
    before = args.concurrency == 1
    database_url = pg.new_database() if db == "postgresql" else None
    env = {"INFRALENS_CONCURRENCY": str(args.concurrency)}
    if stt == "remote":
        assert engine is not None
        env["INFRALENS_STT_API_BASE"] = engine.url
    if database_url:
        env["INFRALENS_DATABASE_URL"] = database_url
    runs: list[Run] = []
    with outside_home("bench-concurrency") as home:
        app = AppServer(home, env).start(timeout_s=180)
        history = History(home, database_url)
        try:
            warm = Client(app.url, verbose=False)  # the models load before the clock starts (counted apart)
            text, _ = warm.predict(CARD, handle_file(clip), api_name="/transcribe")
            warm.predict(CARD, text, api_name="/grade")
            for n in learners:
                start_count = history.count()
                answers, wall_s = load(app.url, clip, n, args.timeout_s)
                sent = sum(a.sent for a in answers)
                replied = [a.attempt_id for a in answers if a.attempt_id]
                counted = history.settle(sent, start_count, DRAIN_S if len(replied) < sent else 5.0)
                run = Run(stt, db, n, answers, wall_s, counted, history.missing(replied), os.getloadavg(), before)
                runs.append(run)
                show(run)
        finally:
            app.stop()
            if database_url:
                with contextlib.suppress(Exception):  # a database still in use: the server goes anyway
                    pg.drop_database(database_url)
    return runs


# ---------------------------------------------------------------- the report

HEADER = (
    f"{'configuration':<24} {'n':>3} {'p50 s':>7} {'p95 s':>7} {'stt p50':>8} {'ans/min':>8} {'wall s':>7} "
    f"{'sent':>5} {'in db':>6} {'lost':>5} {'t/out':>6} {'failed':>6} {'fallbk':>6} {'load1':>6}"
)


def line(run: Run) -> str:
    return (
        f"{run.name:<24} {run.learners:>3} {run.pct(0.5):7.1f} {run.pct(0.95):7.1f} {run.transcribe_p50_s:8.1f} "
        f"{run.per_minute:8.1f} {run.wall_s:7.1f} {run.sent:>5} {run.counted:>6} {run.missing:>5} {run.timeouts:>6} "
        f"{run.failed:>6} {sum(a.fell_back for a in run.answers):>6} {run.load[0]:6.2f}"
    )


def show(run: Run) -> None:
    print(line(run), flush=True)
    for a in run.answers:
        if a.error:
            print(f"    failed: {a.error}", flush=True)
            break
    if run.timeouts:
        steps = sorted({a.timed_out or "" for a in run.answers if a.timed_out})
        print(f"    {run.timeouts} timed out (no reply within the per-request timeout) at: {', '.join(steps)}")


def find(runs: list[Run], stt: str, db: str, n: int) -> Run | None:
    return next((r for r in runs if (r.stt, r.db, r.learners, r.before) == (stt, db, n, False)), None)


def ratio(label: str, a: Run | None, b: Run | None) -> str:
    if a is None or b is None or not a.latencies_s or not b.latencies_s:
        return f"  {label:<44} not measured"
    return (
        f"  {label:<44} p50 x{a.pct(0.5) / b.pct(0.5):5.2f}  p95 x{a.pct(0.95) / b.pct(0.95):5.2f}  "
        f"throughput x{a.per_minute / b.per_minute:5.2f}"
    )


def ratios(runs: list[Run], stts: list[str], dbs: list[str], learners: list[int]) -> list[str]:
    out = []
    if set(STTS) <= set(stts):
        for db, n in itertools.product(dbs, learners):
            out.append(
                ratio(f"remote/local, {db}, {n} learners", find(runs, "remote", db, n), find(runs, "local", db, n))
            )
    if set(DBS) <= set(dbs):
        for stt, n in itertools.product(stts, learners):
            label = f"postgresql/sqlite, {stt}, {n} learners"
            out.append(ratio(label, find(runs, stt, "postgresql", n), find(runs, stt, "sqlite", n)))
    if len(learners) > 1:
        lo, hi = min(learners), max(learners)
        for stt, db in itertools.product(stts, dbs):
            out.append(ratio(f"{hi}/{lo} learners, {stt}, {db}", find(runs, stt, db, hi), find(runs, stt, db, lo)))
    for r in runs:
        if r.before:
            out.append(
                ratio(f"{r.stt}-{r.db} vs {r.name}, {r.learners} learners", find(runs, r.stt, r.db, r.learners), r)
            )
    return out


def pick(raw: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [x.strip() for x in raw.split(",") if x.strip()]
    names = ["postgresql" if x in ("postgres", "pg") else x for x in names]
    unknown = [x for x in names if x not in allowed]
    if unknown or not names:
        raise SystemExit(f"--{what}: choose from {', '.join(allowed)} (comma-separated), not {raw!r}")
    return [x for x in allowed if x in names]


def main() -> None:
    parser = argparse.ArgumentParser(description="simultaneous learners against the web app")
    parser.add_argument("--learners", default="8,32", help="learner counts, comma-separated (default 8,32)")
    parser.add_argument("--stt", default="local,remote", help="local, remote or both (default both)")
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql (or postgres) or both")
    parser.add_argument("--stt-delay", type=float, default=3.0, help="seconds the fake STT engine holds each reply")
    parser.add_argument("--concurrency", type=int, default=32, help="INFRALENS_CONCURRENCY of the apps")
    parser.add_argument("--timeout-s", type=float, default=1200.0,
                        help="a learner's wait for one reply; longer is a timeout (local Whisper, 32 learners, "
                             "2 cores: the last of 32 transcriptions waits for the 31 before it)")  # fmt: skip
    parser.add_argument("--answer-s", type=float, default=60.0)
    parser.add_argument("--before", action="store_true", help="also the queue as it was (one at a time), SQLite")
    args = parser.parse_args()
    learners = sorted({int(x) for x in args.learners.split(",") if x.strip()})
    stts, dbs = pick(args.stt, STTS, "stt"), pick(args.db, DBS, "db")

    clip_path, _text = clips.long_answer(args.answer_s)
    samples, rate = clips.read_wav(clip_path)
    began = time.monotonic()
    print(
        f"answer: {samples.size / rate:.1f} s espeak-ng clip; learners {learners}; stt {stts}; db {dbs}; fake STT "
        f"delay {args.stt_delay:g} s; INFRALENS_CONCURRENCY={args.concurrency}; per-request timeout "
        f"{args.timeout_s:g} s; {os.cpu_count()} cores; load at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    print(HEADER, flush=True)
    runs: list[Run] = []
    engine_cm = FakeSTT(delay_s=args.stt_delay) if "remote" in stts else contextlib.nullcontext()
    with engine_cm as engine, postgres("postgresql" in dbs) as pg:
        plan = [(s, d, learners, args.concurrency) for s, d in itertools.product(stts, dbs)]
        if args.before:
            plan = [(s, "sqlite", learners[:1], 1) for s in stts] + plan
        for stt, db, counts, limit in plan:
            if db == "postgresql" and pg is None:
                print(f"{stt}-{db}: not measured (no PostgreSQL)", flush=True)
                continue
            run_args = argparse.Namespace(**{**vars(args), "concurrency": limit})
            try:
                runs += run_app(stt, db, counts, str(clip_path), run_args, engine, pg)
            except Exception as exc:  # one configuration that cannot start or warm up must not lose the others
                print(f"{stt}-{db}: not measured ({type(exc).__name__}: {str(exc)[:200]})", flush=True)
        if engine is not None:
            print(f"fake STT: {len(engine.requests)} requests, at most {engine.max_in_flight} at once", flush=True)

    print("\nall runs")
    print(HEADER)
    for r in runs:
        print(line(r))
    print("\nratios (x < 1: the first is faster; throughput x > 1: the first serves more)")
    for text in ratios(runs, stts, dbs, learners):
        print(text)
    sent = sum(r.sent for r in runs)
    counted, lost, timeouts = sum(r.counted for r in runs), sum(r.missing for r in runs), sum(r.timeouts for r in runs)
    print(
        f"\nattempts: {sent} graded answers sent, {counted} counted in the databases, {lost} lost; "
        f"{timeouts} learners timed out (reported apart, not as lost)"
    )
    print(f"took {(time.monotonic() - began) / 60:.1f} min; load average at the end: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip


if __name__ == "__main__":
    main()
