#include "server/callbacks/CallbackRetry.h"

#include <algorithm>
#include <cmath>

namespace te {

TimeMs CallbackRetry::delayMs(const CallbackConfig& config, int attempts, double random01) {
    int exponent = std::clamp(attempts - 1, 0, 40);  // 2^40 ms is far beyond any backoffMax
    double delay =
        std::min<double>(config.backoffMaxMs, config.backoffBaseMs * std::pow(2.0, exponent));
    double jitter = 0.8 + 0.4 * std::clamp(random01, 0.0, 1.0);
    return std::max<TimeMs>(1, static_cast<TimeMs>(delay * jitter));
}

bool CallbackRetry::logFailure(int attempts) { return attempts <= 3 || attempts % 10 == 0; }

}  // namespace te
