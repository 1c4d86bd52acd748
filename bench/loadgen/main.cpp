// taskengine-loadgen: drives a running taskengine-server over its REST API and prints one
// JSON line per run. See bench/run and docs/benchmarks.md.
#include <cstdlib>
#include <iostream>
#include <string>

#include "bench/loadgen/Modes.h"

namespace {

const char* kUsage =
    "usage: taskengine-loadgen MODE N [options]\n"
    "  MODE: submit | e2e | latency | chord | get | drain (N ignored)\n"
    "  --host H (127.0.0.1)  --port P (8080)  --client C (bench)  --api-key K (bench-key)\n"
    "  --workflow W (bench-noop)  --params JSON ({}; for get: the path)\n"
    "  --concurrency C (8)  --poll-us U (200)  --timeout S (300)  --repeat R (chord, 1)\n"
    "  --wait S (latency, 0: poll; else GET /jobs/<id>?wait=S, answered when the job ends)\n";

}  // namespace

int main(int argc, char** argv) {
    te::bench::Options o;
    if (argc < 3) {
        std::cerr << kUsage;
        return 2;
    }
    o.mode = argv[1];
    o.n = std::atol(argv[2]);
    for (int i = 3; i < argc; ++i) {
        std::string flag = argv[i];
        if (i + 1 >= argc) {
            std::cerr << "taskengine-loadgen: " << flag << " needs a value\n" << kUsage;
            return 2;
        }
        std::string value = argv[++i];
        if (flag == "--host")
            o.target.host = value;
        else if (flag == "--port")
            o.target.port = std::atoi(value.c_str());
        else if (flag == "--client")
            o.target.client = value;
        else if (flag == "--api-key")
            o.target.apiKey = value;
        else if (flag == "--workflow")
            o.workflow = value;
        else if (flag == "--params" || flag == "--path")
            o.params = value;
        else if (flag == "--concurrency")
            o.concurrency = std::atoi(value.c_str());
        else if (flag == "--poll-us")
            o.pollUs = std::atoi(value.c_str());
        else if (flag == "--wait")
            o.waitSec = std::atoi(value.c_str());
        else if (flag == "--timeout")
            o.timeoutSec = std::atoi(value.c_str());
        else if (flag == "--repeat")
            o.repeat = std::atoi(value.c_str());
        else {
            std::cerr << "taskengine-loadgen: unknown option " << flag << "\n" << kUsage;
            return 2;
        }
    }
    if (o.n <= 0) {
        std::cerr << "taskengine-loadgen: N must be a positive number\n";
        return 2;
    }
    try {
        if (o.mode == "submit") return te::bench::runSubmit(o);
        if (o.mode == "e2e") return te::bench::runE2e(o);
        if (o.mode == "latency") return te::bench::runLatency(o);
        if (o.mode == "chord") return te::bench::runChord(o);
        if (o.mode == "get") return te::bench::runGet(o);
        if (o.mode == "drain") return te::bench::runDrain(o);
    } catch (const std::exception& e) {
        std::cerr << "taskengine-loadgen: " << e.what() << "\n";
        return 1;
    }
    std::cerr << "taskengine-loadgen: unknown mode " << o.mode << "\n" << kUsage;
    return 2;
}
