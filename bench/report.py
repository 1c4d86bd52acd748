"""Turns bench/run's raw JSON lines into the comparison table (stdout) and docs/benchmarks.md.

usage: report.py RESULTS.jsonl MACHINE.json COMMANDS.txt [--markdown OUT --analysis FILE] [--check]
--check: exit 1 unless every workload of every backend run produced its numbers.
"""
import json
import sys


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    return rows


def find(rows, system, backend, workload):
    for r in rows:
        if r["system"] == system and r.get("backend") == backend and r["workload"] == workload:
            return r
    return None


# (label, workload, field, unit, higher_is_better, fmt)
METRICS = [
    ("no-op jobs end to end", "noop_e2e", "jobs_per_s", "jobs/s", True, "{:.0f}"),
    ("submit only (POST /job)", "submit", "jobs_per_s", "jobs/s", True, "{:.0f}"),
    ("/bin/true jobs end to end", "true_e2e", "jobs_per_s", "jobs/s", True, "{:.0f}"),
    ("chord: N no-op + fan-in, wall", "chord", "seconds", "s", False, "{:.3f}"),
    ("round trip p50", "latency", "p50_ms", "ms", False, "{:.2f}"),
    ("round trip p99", "latency", "p99_ms", "ms", False, "{:.2f}"),
    ("round trip p50, waiting (?wait=)", "latency_wait", "p50_ms", "ms", False, "{:.2f}"),
    ("round trip p99, waiting (?wait=)", "latency_wait", "p99_ms", "ms", False, "{:.2f}"),
    ("wrk GET /jobs?limit=10", "wrk_/jobs?limit=10", "requests_per_s", "req/s", True, "{:.0f}"),
    ("wrk GET /", "wrk_/", "requests_per_s", "req/s", True, "{:.0f}"),
    ("GET /jobs?limit=10 p50 (1 conn)", "get_jobs", "p50_ms", "ms", False, "{:.2f}"),
    ("fill 1M jobs (SQL)", "fill", "seconds", "s", False, "{:.1f}"),
    ("GET /jobs?limit=10 p50, 1M jobs", "get_jobs_1m", "p50_ms", "ms", False, "{:.2f}"),
    ("GET /jobs?limit=10 p99, 1M jobs", "get_jobs_1m", "p99_ms", "ms", False, "{:.2f}"),
    ("GET /jobs?state=2&order_by=created_at p50, 1M", "get_jobs_state_1m", "p50_ms", "ms", False,
     "{:.2f}"),
    ("GET /health p50, 1M jobs", "get_health_1m", "p50_ms", "ms", False, "{:.1f}"),
    ("wrk GET /jobs?limit=10, 1M jobs", "wrk_jobs_1m", "requests_per_s", "req/s", True, "{:.0f}"),
    ("no-op jobs end to end, 1M jobs", "noop_e2e_1m", "jobs_per_s", "jobs/s", True, "{:.0f}"),
    ("server RSS idle", "rss", "server_idle_kb", "MiB", False, "{:.1f}"),
    ("server peak RSS", "rss", "server_peak_kb", "MiB", False, "{:.1f}"),
    ("worker RSS idle (each)", "rss", "worker_idle_kb", "MiB", False, "{:.1f}"),
    ("worker peak RSS (each)", "rss", "worker_peak_kb", "MiB", False, "{:.1f}"),
]
# Where Celery's number for a metric comes from, when it has one.
CELERY = {
    "noop_e2e": ("noop_e2e", "jobs_per_s"),
    "submit": ("noop_e2e", "submit_per_s"),
    "true_e2e": ("true_e2e", "jobs_per_s"),
    "chord": ("chord", "seconds"),
    "latency": ("latency", None),
    "latency_wait": ("latency", None),
    ("rss", "server_idle_kb"): ("rss", "broker_idle_kb"),
    ("rss", "server_peak_kb"): ("rss", "broker_peak_kb"),
    ("rss", "worker_idle_kb"): ("rss", "worker_idle_kb"),
    ("rss", "worker_peak_kb"): ("rss", "worker_peak_kb"),
}


def value(row, field):
    if row is None or field not in row:
        return None
    v = row[field]
    if field.endswith("_kb"):
        v = v / 1024.0
    return v


def table(rows):
    backends = []
    for r in rows:
        if r["system"] == "taskengine" and r["backend"] not in backends:
            backends.append(r["backend"])
    has_celery = any(r["system"] == "celery" for r in rows)
    header = ["metric", "unit"] + ["ours, " + b for b in backends]
    if has_celery:
        header += ["Celery+Redis"] + ["ratio " + b for b in backends]
    out = [header]
    for label, workload, field, unit, higher, fmt in METRICS:
        ours = [value(find(rows, "taskengine", b, workload), field) for b in backends]
        if all(v is None for v in ours):
            continue
        line = [label, unit] + [fmt.format(v) if v is not None else "-" for v in ours]
        if has_celery:
            src = CELERY.get((workload, field)) or CELERY.get(workload)
            theirs = None
            if src:
                theirs = value(find(rows, "celery", "redis", src[0]), src[1] or field)
            line.append(fmt.format(theirs) if theirs is not None else "-")
            for v in ours:
                if v is None or theirs is None or v == 0 or theirs == 0 or workload == "rss":
                    line.append("-")
                else:
                    ratio = v / theirs if higher else theirs / v
                    line.append("{:.1f}x".format(ratio))
        out.append(line)
    return out


def text_table(t):
    widths = [max(len(str(r[i])) for r in t) for i in range(len(t[0]))]
    lines = []
    for i, r in enumerate(t):
        lines.append("  ".join(str(c).rjust(w) if j > 1 else str(c).ljust(w)
                               for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def md_table(t):
    lines = ["| " + " | ".join(t[0]) + " |",
             "|" + "|".join(["---"] * 2 + ["---:"] * (len(t[0]) - 2)) + "|"]
    for r in t[1:]:
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(lines)


def check(rows):
    """Every backend that ran produced each core workload's numbers."""
    problems = []
    backends = {r["backend"] for r in rows if r["system"] == "taskengine"}
    if not backends:
        problems.append("no taskengine results at all")
    need = [("latency", "p50_ms"), ("latency_wait", "p50_ms"), ("submit", "jobs_per_s"), ("noop_e2e", "jobs_per_s"),
            ("true_e2e", "jobs_per_s"), ("chord", "seconds"),
            ("get_jobs", "p50_ms"), ("rss", "server_peak_kb")]
    for b in sorted(backends):
        for workload, field in need:
            r = find(rows, "taskengine", b, workload)
            if r is None or not isinstance(r.get(field), (int, float)) or r[field] <= 0:
                problems.append("%s/%s: no %s" % (b, workload, field))
            elif r.get("all_completed") is False or r.get("ok") is False:
                problems.append("%s/%s: did not complete: %s" % (b, workload, json.dumps(r)))
    for p in problems:
        print("bench check: " + p, file=sys.stderr)
    return not problems


def markdown(rows, machine, commands, analysis):
    t = table(rows)
    m = machine
    parts = []
    parts.append("# Benchmarks\n")
    parts.append("Generated by `bench/run` (then `bench/report.py`); the analysis section is "
                 "`bench/analysis.md`. Re-run `bench/run` to refresh every number below.\n")
    parts.append("## Machine and versions\n")
    parts.append("- Date: %s, commit %s" % (m["date"], m["git"]))
    parts.append("- CPU: %s, %s cores (nproc); memory %s; kernel %s" %
                 (m["cpu"], m["nproc"], m["memory"], m["kernel"]))
    parts.append("- gcc %s; POCO %s; ZeroMQ %s; SOCI %s; SQLite %s; PostgreSQL %s" %
                 (m["gcc"], m["poco"], m["zmq"], m["soci"], m["sqlite"], m["postgres"]))
    parts.append("- Celery %s; Redis %s; %s" % (m["celery"], m["redis"], m["python"]))
    parts.append("- Shared machine: other builds may have been running; numbers are one run, "
                 "not a best-of.\n")
    parts.append("## Results\n")
    parts.append("Ours: one `taskengine-server` and two `taskengine-worker`s of 2 slots each on "
                 "the same 2 cores as the load generator. Celery: one worker, prefork, "
                 "concurrency 2; Redis as broker and result backend. Ratio: how many times "
                 "better ours is (throughput ours/Celery, times Celery/ours); below 1.0x is "
                 "worse.\n")
    parts.append(md_table(t) + "\n")
    parts.append("## What each workload is\n")
    parts.append(
        "- **no-op jobs end to end**: `taskengine-loadgen e2e N` POSTs N jobs of `bench-noop` "
        "(one builtin noop task) over 16 keep-alive connections, waits for the newest job "
        "(`GET /jobs/<id>`), then until none is queued or started (`GET /jobs?state=0,1&limit=1`); "
        "then, the clock stopped, checks that `GET /health`'s `jobs.completed` grew by N. Celery: N `noop.delay()` then `ResultSet.join_native()`.\n"
        "- **submit only**: N POST /job over 16 connections (the jobs then run; drained before "
        "the next workload). Celery's column is the publish rate of its e2e run.\n"
        "- **/bin/true**: the same with `bench-true`, a process task (fork/exec, work folder); "
        "Celery's task runs `subprocess.run(['/bin/true'])`.\n"
        "- **chord**: one `bench-chord` job: a spawn task (sh + seq writes spawn.json with N "
        "elements) fans out N builtin noop tasks, then a noop fan-in stage; wall time from "
        "POST to `queue_state: completed` seen by polling every 1 ms, median of the runs; then "
        "checks that N+2 tasks completed. Celery: `chord(noop.s(i) for i in range(N))(fan_in.s())"
        ".get()`. Ours runs one task more (the spawn task, a real process).\n"
        "- **round trip**: one job at a time: POST then poll `GET /jobs/<id>` every 0.2 ms until "
        "completed (the polls are included: each is a full HTTP request and store read). "
        "Celery: `noop.delay().get()` (Redis pub/sub). The first 20 are warm-up. **Waiting**: "
        "the same, but one `GET /jobs/<id>?wait=10` per job, answered when the job ends, as "
        "Celery's `get()` is.\n"
        "- **wrk**: `wrk -t2 -c16 -d5s` with the auth headers. **1M jobs**: 1,000,000 "
        "completed jobs inserted by one SQL statement (recursive CTE in sqlite3, "
        "generate_series in psql; PostgreSQL's table then vacuumed, untimed, as autovacuum would "
        "have done to rows that came in over time), then the GETs again (500 sequential requests; "
        "20 for `state=2` and `/health`), and the end-to-end run of N again on the big table.\n"
        "- **RSS**: VmRSS after start (idle) and VmHWM at the end (peak) from /proc; for "
        "Celery the worker is the main process plus its 2 pool children summed and the "
        "\"server\" rows show Redis.\n")
    parts.append("## Durability of each side\n")
    parts.append(
        "- Ours, PostgreSQL: `fsync=on`, `synchronous_commit=on`, `full_page_writes=on`: every "
        "accepted job and every task's start and result is on disk before it is acknowledged. "
        "A task's claim for a worker commits without waiting for the disk (the next commit "
        "that waits takes it along): a crash of PostgreSQL may forget the last ones, and those "
        "tasks run again (at least once, as after a lost worker).\n"
        "- Ours, SQLite: WAL with `synchronous=NORMAL` (the server's setting): a commit survives "
        "a crash of the process, not necessarily a power loss (the WAL is synced at "
        "checkpoints).\n"
        "- Celery + Redis here: `--save \"\" --appendonly no`, nothing reaches disk; defaults "
        "ack a task on receipt, so a killed worker loses its prefetched tasks.\n")
    if analysis:
        parts.append(open(analysis).read().rstrip() + "\n")
    parts.append("## Exact commands\n")
    parts.append("```\n" + m["command"] + "\n\n" + commands.rstrip() + "\n```\n")
    parts.append("## Raw results\n")
    parts.append("<details><summary>JSON lines</summary>\n\n```\n" +
                 "\n".join(json.dumps(r) for r in rows) + "\n```\n</details>\n")
    return "\n".join(parts)


def main(argv):
    results, machine_path, commands_path = argv[1], argv[2], argv[3]
    opts = argv[4:]
    rows = load(results)
    if "--check" in opts:
        return 0 if check(rows) else 1
    machine = json.load(open(machine_path))
    commands = open(commands_path).read()
    print()
    print(text_table(table(rows)))
    print()
    if "--markdown" in opts:
        out = opts[opts.index("--markdown") + 1]
        analysis = opts[opts.index("--analysis") + 1] if "--analysis" in opts else None
        with open(out, "w") as f:
            f.write(markdown(rows, machine, commands, analysis))
        print("wrote " + out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
