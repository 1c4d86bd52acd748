#pragma once

#include <Poco/Net/HTTPClientSession.h>

#include <cstdint>
#include <memory>
#include <string>

namespace te::bench {

// Where the server is and who we are.
struct Target {
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string client = "bench";
    std::string apiKey = "bench-key";
};

// One keep-alive HTTP connection to the REST API. Not thread safe: one per thread.
// Every call throws std::runtime_error on a transport error or an unexpected status, after
// one reconnect-and-retry for the case where the server closed an idle keep-alive connection.
class ApiClient {
public:
    explicit ApiClient(const Target& target);

    // POST /job {"job": {"workflow": W}, "parameters": P}; returns the job id.
    std::int64_t submit(const std::string& workflow, const std::string& parametersJson);
    // GET /jobs/<id>: true when the job's queue_state is "completed" (failed or not);
    // `failed` tells which.
    // waitSec > 0: GET /jobs/<id>?wait=waitSec, which answers when the job ends.
    bool completed(std::int64_t id, bool* failed = nullptr, int waitSec = 0);
    // GET /health: jobs.completed.
    std::int64_t completedCount();
    // Whether any of the caller's jobs is still queued or started (GET /jobs?state=0,1&limit=1:
    // an index probe, where completedCount counts every job).
    bool anyUnfinished();
    // Any GET; returns the body. Throws unless 200.
    std::string get(const std::string& path);

private:
    std::string request(const std::string& method, const std::string& path,
                        const std::string& body);
    Target _target;
    std::unique_ptr<Poco::Net::HTTPClientSession> _session;
};

}  // namespace te::bench
