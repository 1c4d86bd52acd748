#pragma once

#include "shared/config/ServerConfig.h"
#include "shared/model/Time.h"

namespace te {

// When to try a failed callback again, and which failures are worth a log row.
class CallbackRetry {
public:
    // min(backoffMax, backoffBase * 2^(attempts-1)), scaled by a jitter factor in [0.8, 1.2]
    // taken from random01 in [0, 1), so endpoints that failed together do not retry in step.
    // attempts counts the attempt that just failed (1 after the first).
    static TimeMs delayMs(const CallbackConfig& config, int attempts, double random01);

    // Whether the attempt-th failure gets a Warn log row. Attempts 1..3, then every 10th:
    // a receiver down for a day makes a few dozen rows per event, not hundreds.
    static bool logFailure(int attempts);
};

}  // namespace te
