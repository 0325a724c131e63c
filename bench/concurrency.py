"""Many learners at once: 8 and 32 simultaneous 60 s answers, each transcribed and graded through the web app.

    python bench/concurrency.py                    # the full matrix, 10-20 min on 2 busy cores
    python bench/concurrency.py --learners 8 --only remote-sqlite
    python bench/concurrency.py --local-learners 8      # a busy machine: local Whisper only at 8 learners

Each learner is a gradio_client thread: /transcribe a 60 s espeak-ng answer, then /grade its transcript. All
start together (a barrier; clients are connected beforehand). Every app is the real `python app.py` in a
subprocess on loopback, its home under ~/.cache (removed afterwards). Configurations:

  local   the app's own Whisper (tiny.en, the offline default) transcribes
  remote  INFRALENS_STT_API_BASE points at a fake OpenAI-compatible STT server (tests/support/fake_stt.py) that
          holds every reply --stt-delay seconds: a serving engine on its own hardware stands in for it
  sqlite / postgresql   the history backend (PostgreSQL started by tests/support/postgres.py; SQLite only,
          and said so, when it cannot start)
  before  the queue as it was: Gradio's default of one event of a kind at a time

Per run: p50/p95 latency per learner (transcribe + grade), throughput (answers a minute), and the attempts
counted in the database afterwards against those submitted (lost = submitted - counted). Then the ratios.
INFRALENS_CONCURRENCY sets the app's queue; GRADIO_DEFAULT_CONCURRENCY_LIMIT is set to the same value as a
stand-in until ui.py passes it to demo.queue() (an explicit default_concurrency_limit overrides the variable).
Everything ends by itself: the apps are stopped, the fake server and PostgreSQL too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from gradio_client import Client, handle_file  # noqa: E402
from support import clips  # noqa: E402
from support.app_server import AppServer, outside_home  # noqa: E402
from support.fake_stt import FakeSTT  # noqa: E402

CARD = "k8s-job-vs-deployment"
CLIENT_TIMEOUT_S = 1800.0  # a learner that waits longer than this counts as failed


@dataclass
class Run:
    config: str
    learners: int
    latencies_s: list[float]
    transcribe_s: list[float]
    wall_s: float
    failures: list[str]
    counted: int
    load: tuple[float, float, float]

    @property
    def lost(self) -> int:
        return self.learners - self.counted

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies_s)
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]

    @property
    def per_minute(self) -> float:
        return len(self.latencies_s) / self.wall_s * 60 if self.wall_s else 0.0


def learner(client: Client, clip: str, start: threading.Barrier, out: dict[str, object]) -> None:
    start.wait()
    began = time.perf_counter()
    try:
        text, _metrics = client.predict(CARD, handle_file(clip), api_name="/transcribe")
        out["transcribe_s"] = time.perf_counter() - began
        client.predict(CARD, text, api_name="/grade")
        out["total_s"] = time.perf_counter() - began
    except Exception as exc:  # the bench reports every failure; it never stops at one
        out["error"] = f"{type(exc).__name__}: {str(exc)[:160]}"
    out["end"] = time.perf_counter()


def load(url: str, clip: str, n: int) -> tuple[list[dict[str, object]], float]:
    clients = [Client(url, verbose=False) for _ in range(n)]  # connected before the clock starts
    barrier = threading.Barrier(n + 1)
    results: list[dict[str, object]] = [{} for _ in range(n)]
    threads = [
        threading.Thread(target=learner, args=(c, clip, barrier, r), daemon=True)
        for c, r in zip(clients, results, strict=True)
    ]
    for th in threads:
        th.start()
    barrier.wait()
    began = time.perf_counter()
    for th in threads:
        th.join(CLIENT_TIMEOUT_S)
    ends = [float(r["end"]) for r in results if "end" in r]  # type: ignore[arg-type]
    for r in results:
        if "end" not in r:
            r["error"] = f"no answer within {CLIENT_TIMEOUT_S:.0f} s"
    return results, (max(ends) - began) if ends else 0.0


def count_attempts(home: Path, database_url: str | None) -> int:
    if database_url:
        import psycopg

        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM attempts").fetchone()
            return int(row[0]) if row else 0
    with contextlib.closing(sqlite3.connect(home / "history.db")) as db:
        return int(db.execute("SELECT count(*) FROM attempts").fetchone()[0])


@contextlib.contextmanager
def postgres() -> Iterator[object | None]:
    """The tests' PostgreSQL helper, or None (SQLite only) when it cannot start here."""
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


def run_config(
    name: str, clip: str, learners: list[int], *, stt: FakeSTT | None, pg: object | None, concurrency: int
) -> list[Run]:
    database_url = pg.new_database() if pg is not None else None  # type: ignore[attr-defined]
    env = {"INFRALENS_CONCURRENCY": str(concurrency), "GRADIO_DEFAULT_CONCURRENCY_LIMIT": str(concurrency)}
    if stt is not None:
        env["INFRALENS_STT_API_BASE"] = stt.url
    if database_url:
        env["INFRALENS_DATABASE_URL"] = database_url
    runs: list[Run] = []
    with outside_home("bench-concurrency") as home:
        app = AppServer(home, env).start(timeout_s=180)
        try:
            warm = Client(app.url, verbose=False)  # the models load before the clock starts (counted apart)
            text, _ = warm.predict(CARD, handle_file(clip), api_name="/transcribe")
            warm.predict(CARD, text, api_name="/grade")
            for n in learners:
                before = count_attempts(home, database_url)
                results, wall_s = load(app.url, clip, n)
                done = [r for r in results if "total_s" in r]
                runs.append(
                    Run(
                        name,
                        n,
                        [float(r["total_s"]) for r in done],  # type: ignore[arg-type]
                        [float(r["transcribe_s"]) for r in done],  # type: ignore[arg-type]
                        wall_s,
                        [str(r["error"]) for r in results if "error" in r],
                        count_attempts(home, database_url) - before,
                        os.getloadavg(),
                    )
                )
                show(runs[-1])
        finally:
            app.stop()
    return runs


def show(run: Run) -> None:
    failures = f"; {len(run.failures)} failed, e.g. {run.failures[0]}" if run.failures else ""
    print(
        f"{run.config:<22} {run.learners:>3} learners  p50 {run.pct(0.5):6.1f} s  p95 {run.pct(0.95):6.1f} s  "
        f"transcribe p50 {statistics.median(run.transcribe_s) if run.transcribe_s else float('nan'):6.1f} s  "
        f"{run.per_minute:5.1f} answers/min  wall {run.wall_s:6.1f} s  attempts {run.counted}/{run.learners} "
        f"(lost {run.lost})  load {run.load[0]:.1f}{failures}",
        flush=True,
    )


def ratio(runs: list[Run], a: str, b: str, n: int) -> str:
    ra = next((r for r in runs if r.config == a and r.learners == n), None)
    rb = next((r for r in runs if r.config == b and r.learners == n), None)
    if ra is None or rb is None or not ra.latencies_s or not rb.latencies_s:
        return f"{a} vs {b} @{n}: not measured"
    return (
        f"{a} vs {b} @{n}: p95 latency x{ra.pct(0.95) / rb.pct(0.95):.2f}, "
        f"throughput x{ra.per_minute / rb.per_minute:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="simultaneous learners against the web app")
    parser.add_argument("--learners", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--stt-delay", type=float, default=3.0, help="seconds the fake STT engine holds each reply")
    parser.add_argument("--concurrency", type=int, default=32, help="INFRALENS_CONCURRENCY of the apps")
    parser.add_argument("--only", nargs="*", help="configurations to run, e.g. remote-sqlite before-local")
    parser.add_argument("--answer-s", type=float, default=60.0)
    parser.add_argument(
        "--local-learners", type=int, nargs="+", help="learner counts for local transcription (default: --learners)"
    )
    args = parser.parse_args()

    clip_path, _text = clips.long_answer(args.answer_s)
    samples, rate = clips.read_wav(clip_path)
    print(
        f"answer: {samples.size / rate:.1f} s espeak-ng clip; fake STT delay {args.stt_delay:g} s; "
        f"INFRALENS_CONCURRENCY={args.concurrency}; {os.cpu_count()} cores; load at start {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    wanted = set(args.only or [])
    local_learners = args.local_learners or args.learners
    runs: list[Run] = []
    with FakeSTT(delay_s=args.stt_delay) as stt, postgres() as pg:
        plan: list[tuple[str, FakeSTT | None, object | None, int, list[int]]] = [
            ("before-local-sqlite", None, None, 1, [min(local_learners)]),
            ("before-remote-sqlite", stt, None, 1, [min(args.learners)]),
            ("local-sqlite", None, None, args.concurrency, local_learners),
            ("remote-sqlite", stt, None, args.concurrency, args.learners),
        ]
        if pg is not None:
            plan += [
                ("local-postgresql", None, pg, args.concurrency, local_learners),
                ("remote-postgresql", stt, pg, args.concurrency, args.learners),
            ]
        for name, engine, db, limit, learners in plan:
            if wanted and name not in wanted:
                continue
            try:
                runs += run_config(name, str(clip_path), learners, stt=engine, pg=db, concurrency=limit)
            except Exception as exc:  # one configuration that cannot start or warm up must not lose the others
                print(f"{name}: not measured ({type(exc).__name__}: {str(exc)[:200]})", flush=True)
        print(f"fake STT: {len(stt.requests)} requests, at most {stt.max_in_flight} at once", flush=True)

    print("\nratios (x < 1: the first is faster / x > 1 for throughput: the first serves more)")
    for n in args.learners:
        print("  " + ratio(runs, "remote-sqlite", "local-sqlite", n))
        print("  " + ratio(runs, "remote-postgresql", "remote-sqlite", n))
        print("  " + ratio(runs, "local-postgresql", "local-sqlite", n))
    n0 = min(args.learners)
    print("  " + ratio(runs, "local-sqlite", "before-local-sqlite", n0))
    print("  " + ratio(runs, "remote-sqlite", "before-remote-sqlite", n0))
    lost = sum(r.lost for r in runs)
    submitted = sum(r.learners for r in runs)
    print(f"\nattempts: {submitted} submitted, {submitted - lost} counted in the databases, {lost} lost")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
