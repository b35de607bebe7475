"""HTTP load against the real service on loopback, with GET /healthz as the ceiling.

Starts ``recommender setup`` (demo feedback, one trained model) and ``recommender serve
--workers N`` in a temporary folder, then drives it with wrk from a separate process:
GET /healthz (the ceiling of the stack: uvicorn + FastAPI + middleware, no work),
GET /api/suggestions (organizer token) and POST /api/feedback (a unique line per request,
stored durably in SQLite WAL), each for ``--duration`` seconds at ``--connections``
concurrent connections, in the same run. Prints req/s, p50 and p99 latency, the ratio
of each throughput to the ceiling and the CPU seconds each service worker used (whether
wrk's kept-alive connections were spread over the workers), and writes the "HTTP load"
section of bench/RESULTS.md. ``--compare-batch-max 1`` measures POST /api/feedback once
more with group commit off (a transaction per line), in the same run.

    .venv/bin/python bench/load.py                    # 3 rounds of 10 s each, 50 connections, 2 workers
    .venv/bin/python bench/load.py --duration 5 --rounds 1 --no-record

Each round measures the three endpoints back to back, and ratios are taken within a round
(the median over rounds is reported): on a shared machine the other load changes between
rounds more than within one. Afterwards the same connections pace their requests (a think
time after each answer, so that together they ask for at most a quarter of the ceiling's
throughput, ``--paced-rate``), which gives the latency below saturation, where a closed
loop at full speed measures mostly the queue in front of it.

Needs wrk (Debian: ``apt-get install -y wrk``). Targets on 2 cores: suggestions >= 0.7 of
the ceiling with p99 < 20 ms at 50 connections; feedback intake >= 0.4 of the ceiling.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## HTTP load"
TOKEN = "bench-organizer-token"

FEEDBACK_LUA = r"""
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  thread_id = tid
end
request = function()
  counter = counter + 1
  local body = string.format(
    '{"text":"压测反馈 %d-%d：想学习公文写作和会议纪要的格式","segment":"网格员","submitter":"bench-%d-%d"}',
    thread_id, counter, thread_id, counter)
  return wrk.format("POST", "/api/feedback", {["Content-Type"] = "application/json"}, body)
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """``recommender serve`` in its own folder; used by this benchmark and by the load tests."""

    def __init__(
        self,
        folder: Path,
        *,
        workers: int = 2,
        database_url: str | None = None,
        extra_env: dict[str, str] | None = None,
        log_level: str = "WARNING",
    ) -> None:
        self.folder = Path(folder)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.database_url = database_url or f"sqlite:///{self.folder / 'feedback.db'}"
        self.log_path = self.folder / "serve.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RECOMMENDER_", "PROMETHEUS_"))},
            "RECOMMENDER_DATABASE_URL": self.database_url,
            "RECOMMENDER_DATA_DIR": str(self.folder / "data"),
            "RECOMMENDER_MODELS_DIR": str(self.folder / "models"),
            "RECOMMENDER_ORGANIZER_TOKENS": TOKEN,
            "RECOMMENDER_RATE_LIMIT": "off",
            "RECOMMENDER_LOG_LEVEL": log_level,
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.process: subprocess.Popen | None = None

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run ``python -m recommender ARGS`` with this service's settings."""
        return subprocess.run(
            [sys.executable, "-m", "recommender", "-q", *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def setup(self, *, demo: bool = True) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        done = self.cli("setup", *([] if demo else ["--no-demo"]))
        if done.returncode != 0:
            raise RuntimeError(f"recommender setup failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def start(self, *, ready: bool = True, timeout: float = 90) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as sink:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "recommender", "serve",
                    "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
                ],
                cwd=self.folder,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        path = "/readyz" if ready else "/healthz"
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.base_url + path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve did not answer {path} within {timeout}s:\n{self.output()}")
            time.sleep(0.2)

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (children of the serve process, not multiprocessing helpers)."""
        assert self.process is not None
        pids = []
        for child in _children(self.process.pid):
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "resource_tracker" not in cmdline:
                pids.append(child)
        return pids

    def output(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.extend(int(p) for p in (task / "children").read_text().split())
        except OSError:
            pass
    return out


# ------------------------------------------------------------------------------ wrk


@dataclass
class Figures:
    name: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx answers plus socket errors
    worker_cpu: tuple[float, ...] = ()  # CPU seconds each service worker used during the run

    def ratio(self, ceiling: Figures) -> float:
        return self.rps / ceiling.rps if ceiling.rps else 0.0


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(name: str, text: str) -> Figures:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return Figures(name, total, rps, p50, p99, errors)


def run_wrk(name: str, url: str, *, duration: int, connections: int, threads: int, headers=(), script=None) -> Figures:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    for header in headers:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", str(script)]
    cmd.append(url)
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return parse_wrk(name, done.stdout)


def machine() -> str:
    uname = subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip()
    return f"`{uname}`, nproc {os.cpu_count()}, Python {platform.python_version()}"


def table(rows: list[Figures], ceiling: Figures) -> str:
    lines = [
        "| endpoint | requests | req/s | p50 ms | p99 ms | errors | ratio to /healthz | worker CPU s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in rows:
        cpu = " / ".join(f"{c:.1f}" for c in f.worker_cpu) or "–"
        lines.append(
            f"| {f.name} | {f.requests} | {f.rps:.0f} | {f.p50_ms:.2f} | {f.p99_ms:.2f} | {f.errors} | {f.ratio(ceiling):.2f} | {cpu} |"
        )
    return "\n".join(lines)


def measured(service: ServiceProcess, name: str, url: str, **wrk_args) -> Figures:
    """run_wrk, plus how much CPU each service worker used meanwhile (shows whether wrk's
    kept-alive connections landed on one worker or were spread over both)."""
    pids = service.worker_pids()
    before = [cpu_seconds(p) for p in pids]
    figures = run_wrk(name, url, **wrk_args)
    figures.worker_cpu = tuple(cpu_seconds(p) - b for p, b in zip(pids, before))
    return figures


def record(markdown: str) -> None:
    """Replace (or append) the "HTTP load" section of bench/RESULTS.md; other sections are left alone."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(SECTION + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + markdown
    else:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + markdown.rstrip("\n") + "\n\n" + (text[nxt + 1 :] if nxt != -1 else "")
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def paced_script(rate: float, connections: int, base: str = "") -> str:
    """A wrk script whose connections each wait ``connections / rate`` seconds after an
    answer before the next request (think time): at most ``rate`` req/s from
    ``connections`` clients, below saturation, so the latency is the service's and not a
    queue in front of it."""
    return base + f"\nfunction delay()\n  return {1000.0 * connections / rate:.3f}\nend\n"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


@dataclass
class Summary:
    """One endpoint over all rounds: medians, and the ratio to /healthz of the same round."""

    name: str
    rounds: list[Figures]
    ratios: list[float]

    @property
    def requests(self) -> int:
        return sum(f.requests for f in self.rounds)

    @property
    def errors(self) -> int:
        return sum(f.errors for f in self.rounds)

    def row(self) -> str:
        rps = median([f.rps for f in self.rounds])
        p50 = median([f.p50_ms for f in self.rounds])
        p99 = median([f.p99_ms for f in self.rounds])
        ratio = median(self.ratios)
        spread = f"{min(self.ratios):.2f}–{max(self.ratios):.2f}" if len(self.ratios) > 1 else "–"
        per_round = ", ".join(f"{r:.2f}" for r in self.ratios)
        cpu = " · ".join("/".join(f"{c:.0f}" for c in f.worker_cpu) for f in self.rounds) or "–"
        return (
            f"| {self.name} | {self.requests} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {self.errors} "
            f"| **{ratio:.2f}** | {spread} ({per_round}) | {self.cpu_ms:.2f} | {cpu} |"
        )

    @property
    def cpu_ms(self) -> float:
        """Median over rounds of the service's CPU time per answered request (all workers,
        every thread: event loop, intake writer, assignment pass), in ms. Less sensitive to
        the machine's other load than req/s: what a change costs or saves per request."""
        return median([1000 * sum(f.worker_cpu) / f.requests for f in self.rounds if f.requests])


def summary_table(summaries: list[Summary]) -> str:
    lines = [
        "| endpoint | requests | req/s (median) | p50 ms | p99 ms | errors | ratio to /healthz (median) "
        "| ratio min–max (per round) | CPU ms per request | worker CPU s per round |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    lines += [s.row() for s in summaries]
    return "\n".join(lines)


def paced_table(rows: list[Figures], rate: float) -> str:
    lines = [
        f"| endpoint, paced (at most {rate:.0f} req/s) | requests | req/s | p50 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in rows:
        lines.append(f"| {f.name} | {f.requests} | {f.rps:.0f} | {f.p50_ms:.2f} | {f.p99_ms:.2f} | {f.errors} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint and round (default 10)")
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="rounds of healthz → suggestions → feedback (default 3); ratios are taken within a round, "
        "the median is reported: the machine's other load changes between rounds, not within one",
    )
    parser.add_argument("--connections", type=int, default=50, help="concurrent connections (default 50)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="service workers (default 2)")
    parser.add_argument(
        "--paced-rate", type=float, default=None, metavar="REQ_PER_S",
        help="afterwards, latency at this offered load from the same number of connections, each "
        "pacing its requests (default: a quarter of the median /healthz throughput of the rounds; 0 skips)",
    )
    parser.add_argument("--log-level", default="WARNING", help="service log level (INFO adds an access-log line per request)")
    parser.add_argument("--database-url", default=None, help="SQLAlchemy URL (default: SQLite in the temporary folder)")
    parser.add_argument(
        "--compare-batch-max", type=int, default=None, metavar="N",
        help="afterwards restart the service with RECOMMENDER_INTAKE_BATCH_MAX=N (1 = no group commit) "
        "and measure POST /api/feedback again, in the same run",
    )
    parser.add_argument("--no-record", action="store_true", help="print only; do not write bench/RESULTS.md")
    args = parser.parse_args(argv)

    if shutil.which("wrk") is None:
        print("wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk`.", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="recommender-load-"))
    service = ServiceProcess(folder, workers=args.workers, database_url=args.database_url, log_level=args.log_level)
    auth = f"Authorization: Bearer {TOKEN}"
    lua = folder / "feedback.lua"
    lua.write_text(FEEDBACK_LUA, encoding="utf-8")
    endpoints = [
        ("GET /healthz", "/healthz", {}),
        ("GET /api/suggestions", "/api/suggestions", {"headers": [auth]}),
        ("POST /api/feedback", "/api/feedback", {"script": lua}),
    ]
    common = dict(duration=args.duration, connections=args.connections, threads=args.threads)
    rounds: list[list[Figures]] = []
    paced: list[Figures] = []
    extra_rows: list[Figures] = []
    try:
        print(f"setting up in {folder} (demo feedback, training) …", flush=True)
        service.setup()
        service.start()
        # Warm both workers' caches (model cards, demand records, ranking) and the connections.
        run_wrk("warm-up", service.base_url + "/api/suggestions", duration=2, connections=10, threads=1, headers=[auth])
        for r in range(args.rounds):
            row = []
            for name, path, extra in endpoints:
                print(f"  round {r + 1}/{args.rounds} {name}: {args.duration}s at {args.connections} connections …", flush=True)
                row.append(measured(service, name, service.base_url + path, **common, **extra))
                print(f"    {row[-1].rps:.0f} req/s, p99 {row[-1].p99_ms:.1f} ms", flush=True)
            rounds.append(row)
        if args.paced_rate is None:
            args.paced_rate = round(0.25 * median([row[0].rps for row in rounds]), -1)
        if args.paced_rate > 0:
            for name, path, extra in endpoints:
                script = folder / f"paced-{len(paced)}.lua"
                base = FEEDBACK_LUA if "script" in extra else ""
                script.write_text(paced_script(args.paced_rate, args.connections, base), encoding="utf-8")
                print(f"  paced {name}: at most {args.paced_rate:.0f} req/s …", flush=True)
                paced.append(
                    run_wrk(name, service.base_url + path, **common, headers=extra.get("headers", ()), script=script)
                )
        stored = httpx.get(service.base_url + "/metrics").text
        if args.compare_batch_max is not None:
            service.stop()
            service.env["RECOMMENDER_INTAKE_BATCH_MAX"] = str(args.compare_batch_max)
            service.start()
            for name, path, extra in (endpoints[0], endpoints[2]):
                label = f"{name}, batch max {args.compare_batch_max}"
                print(f"  {label}: {args.duration}s at {args.connections} connections …", flush=True)
                run_wrk("warm-up", service.base_url + "/healthz", duration=2, connections=10, threads=1)
                extra_rows.append(measured(service, label, service.base_url + path, **common, **extra))
    finally:
        service.stop()
    summaries = [
        Summary(name, [row[i] for row in rounds], [row[i].ratio(row[0]) for row in rounds])
        for i, (name, _, _) in enumerate(endpoints)
    ]
    if extra_rows:
        summaries.append(Summary(extra_rows[1].name, [extra_rows[1]], [extra_rows[1].ratio(extra_rows[0])]))
    suggestions, feedback = summaries[1], summaries[2]
    sugg_ratio, feed_ratio = median(suggestions.ratios), median(feedback.ratios)
    verdict = [
        f"- suggestions: {sugg_ratio:.3f} of the ceiling (median of {args.rounds} rounds; target >= 0.70): "
        + ("met" if sugg_ratio >= 0.7 else "MISSED"),
        f"- feedback intake: {feed_ratio:.3f} of the ceiling (median of {args.rounds} rounds; target >= 0.40): "
        + ("met" if feed_ratio >= 0.4 else "MISSED"),
    ]
    if paced:
        p99 = paced[1].p99_ms
        verdict.append(
            f"- suggestions p99 at {args.connections} paced connections (at most {args.paced_rate:.0f} req/s): "
            f"{p99:.1f} ms (target < 20 ms): " + ("met" if p99 < 20 else "MISSED")
        )
    verdict.append(
        f"- suggestions p99 at saturation (closed loop, median of rounds): "
        f"{median([f.p99_ms for f in suggestions.rounds]):.1f} ms; /healthz "
        f"{median([f.p99_ms for f in summaries[0].rounds]):.1f} ms"
    )
    stored_line = re.search(r'recommender_feedback_stored_total\{source="api"\} ([\d.e+]+)', stored)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    db = "SQLite (WAL)" if service.database_url.startswith("sqlite") else "PostgreSQL"
    parts = [summary_table(summaries), ""]
    if paced:
        parts += [paced_table(paced, args.paced_rate), ""]
    report = "\n".join(parts + verdict)
    try:
        load_avg = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load_avg = "?"
    print()
    print(report)
    if stored_line:
        print(f"(feedback stored during the run, per /metrics of the answering worker's view: {stored_line.group(1)})")
    if not args.no_record:
        record(
            "\n".join(
                [
                    SECTION,
                    "",
                    f"`bench/load.py` on {now}; {machine()}; load average at the end {load_avg}.",
                    f"Service: `recommender serve --workers {args.workers}` on {db}, log level {args.log_level}, "
                    f"demo data + one trained model; load: wrk {args.threads} threads, {args.connections} connections, "
                    f"{args.rounds} rounds of {args.duration} s per endpoint (healthz → suggestions → feedback), "
                    "on the same 2 cores (loopback). \"CPU ms per request\" is the service's CPU time (all workers "
                    "and threads) per answered request, median of the rounds; \"worker CPU s\" is the CPU each "
                    "service worker used in each round (an uneven split means wrk's kept-alive connections landed "
                    "mostly on one worker)."
                    + (
                        f" The paced table: the same {args.connections} connections, each waiting "
                        f"{1000 * args.connections / args.paced_rate:.0f} ms after an answer before its next request "
                        f"(wrk's `delay()`; at most {args.paced_rate:.0f} req/s in all), i.e. clients with think "
                        "time and the latency below saturation."
                        if paced else ""
                    ),
                    "",
                    report,
                    "",
                ]
            )
        )
        print(f"\nrecorded in {RESULTS.relative_to(ROOT)}")
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
