#pragma once

#include <string>

#include "bench/loadgen/ApiClient.h"

namespace te::bench {

struct Options {
    Target target;
    std::string mode;
    long n = 1000;
    std::string workflow = "bench-noop";
    std::string params = "{}";
    int concurrency = 8;
    int pollUs = 200;      // latency/chord: pause between two polls of GET /jobs/<id>
    int waitSec = 0;       // latency: > 0, GET /jobs/<id>?wait=S instead of polling
    int timeoutSec = 300;  // every mode gives up (and says so) after this long
    int repeat = 1;        // chord: runs
};

// Each mode prints one JSON line on stdout and returns the exit code (0: all jobs done and
// none failed; 1 otherwise).
int runSubmit(const Options& o);   // N submissions over C connections: jobs/s accepted
int runE2e(const Options& o);      // N submissions, then wait until all completed: jobs/s
int runLatency(const Options& o);  // N times: submit one, poll (or wait) until completed
int runChord(const Options& o);    // one job whose workflow fans out N tasks and fans in
int runGet(const Options& o);      // N GETs of --path over C connections (no wrk needed)
int runDrain(const Options& o);    // wait until /health shows no queued or started job

}  // namespace te::bench
