-- wrk script: the auth headers and one JSON line at the end (latencies in ms).
-- usage: wrk -s bench/wrk-report.lua ... URL   (env BENCH_CLIENT, BENCH_API_KEY)
wrk.headers["client"] = os.getenv("BENCH_CLIENT") or "bench"
wrk.headers["api-key"] = os.getenv("BENCH_API_KEY") or "bench-key"

done = function(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"errors":%d,"non_2xx":%d,"seconds":%.3f,"requests_per_s":%.1f,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f}\n',
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status, seconds,
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
