"""Measures the Celery side: noop and /bin/true throughput, chord wall time, round trip.

Prints one JSON line per workload, in the shape taskengine-loadgen uses.
usage: driver.py e2e N [--task noop|true] | chord N [--repeat R] | latency N
"""
import json
import math
import sys
import time

from celery import chord
from celery.result import ResultSet

from app import app, fan_in, noop, true


def pct(samples, p):
    s = sorted(samples)
    rank = max(1, math.ceil(p / 100.0 * len(s)))
    return s[min(len(s), rank) - 1]


def stats(samples_ms):
    return {
        "p50_ms": round(pct(samples_ms, 50), 3),
        "p90_ms": round(pct(samples_ms, 90), 3),
        "p99_ms": round(pct(samples_ms, 99), 3),
        "max_ms": round(max(samples_ms), 3),
        "mean_ms": round(sum(samples_ms) / len(samples_ms), 3),
    }


def e2e(n, task_name, timeout):
    task = {"noop": noop, "true": true}[task_name]
    t0 = time.perf_counter()
    results = [task.delay() for _ in range(n)]
    submit_s = time.perf_counter() - t0
    ResultSet(results).join_native(timeout=timeout, propagate=True)
    seconds = time.perf_counter() - t0
    return {"mode": "e2e", "task": task_name, "n": n, "submit_seconds": round(submit_s, 3),
            "seconds": round(seconds, 3), "jobs_per_s": round(n / seconds, 3),
            "submit_per_s": round(n / submit_s, 3), "all_completed": True}


def chord_run(n, repeat, timeout):
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = chord(noop.s(i) for i in range(n))(fan_in.s())
        got = result.get(timeout=timeout)
        walls.append((time.perf_counter() - t0) * 1000.0)
        assert got == n, got
    out = {"mode": "chord", "n": n, "runs": repeat, "seconds": round(pct(walls, 50) / 1000.0, 3),
           "tasks_per_s": round((n + 1) / (pct(walls, 50) / 1000.0), 3), "ok": True}
    out.update(stats(walls))
    return out


def latency(n, timeout):
    samples = []
    warmup = min(20, n // 10)
    for i in range(n + warmup):
        t0 = time.perf_counter()
        noop.delay().get(timeout=timeout)
        if i >= warmup:
            samples.append((time.perf_counter() - t0) * 1000.0)
    out = {"mode": "latency", "n": n, "failed": 0}
    out.update(stats(samples))
    return out


def main(argv):
    mode, n = argv[1], int(argv[2])
    opts = dict(zip(argv[3::2], argv[4::2]))
    timeout = float(opts.get("--timeout", "300"))
    if mode == "e2e":
        out = e2e(n, opts.get("--task", "noop"), timeout)
    elif mode == "chord":
        out = chord_run(n, int(opts.get("--repeat", "1")), timeout)
    elif mode == "latency":
        out = latency(n, timeout)
    else:
        raise SystemExit("unknown mode " + mode)
    out["system"] = "celery"
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv)
