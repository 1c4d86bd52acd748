"""The Celery side of the benchmark: the same work as bench/workflows/bench.yaml.

Broker and result backend are one Redis (bench/celery/run starts it with --save "" and
--appendonly no, i.e. nothing is durable). Defaults otherwise: prefork pool, acks on receipt,
prefetch multiplier 4, JSON serializer.
"""
import os
import subprocess

from celery import Celery

url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6390/0")
app = Celery("bench", broker=url, backend=url)
app.conf.update(
    worker_hijack_root_logger=False,
    worker_log_color=False,
    result_expires=3600,
)


@app.task(name="noop")
def noop(*args, **kwargs):
    return None


@app.task(name="true")
def true():
    # The same as the engine's bench-true job: one real process per task.
    return subprocess.run(["/bin/true"], check=True).returncode


@app.task(name="fan_in")
def fan_in(results):
    return len(results)
