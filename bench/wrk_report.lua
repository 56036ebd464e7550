-- wrk reporter for bench/*.sh: prints one parseable line after the run.
--
--   GALE_BENCH requests=N duration_us=N rps=F p50_us=N p90_us=N p99_us=N max_us=N socket_errors=N non2xx=N
--
-- Latencies are wrk's per-request latencies in microseconds; non2xx counts
-- responses with a status outside 200-399; socket_errors sums connect, read,
-- write and timeout errors.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "GALE_BENCH requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d socket_errors=%d non2xx=%d\n",
    summary.requests, summary.duration, summary.requests / summary.duration * 1e6,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
