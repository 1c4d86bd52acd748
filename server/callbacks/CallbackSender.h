#pragma once

#include <memory>

#include "shared/config/ServerConfig.h"

namespace te {

class Store;
struct QueueStats;

// Delivers the callback outbox: threads take due events (Tx::dueCallbacks), POST them, and
// mark them delivered (2xx) or schedule a retry with exponential backoff and jitter, until the
// event is older than max_age, when it is marked dead and logged with progname "callback".
// Never blocks the engine: the engine only writes rows and calls wake().
// Thread safety: start() and stop() from the owning thread; wake() and stats() from any thread,
// never blocking on HTTP or the database. stop() waits for requests in flight (each bounded by
// callbacks.timeout) and leaves everything else pending in the store for the next start.
// Delivery order per (job, url) is kept; see docs/callbacks.md for the wire format.
class CallbackSender {
public:
    CallbackSender(Store& store, const ServerConfig& config);
    ~CallbackSender();
    void start();
    void stop();
    void wake();               // new events were committed: look now, not at the next poll
    QueueStats stats() const;  // workers = threads, working = in flight, pending = waiting rows
private:
    struct Impl;
    std::unique_ptr<Impl> _impl;
};

}  // namespace te
