#pragma once

#include <string>

namespace te {

// Tells the Service Control Manager to restart the service when it fails (exits without
// reporting SERVICE_STOPPED cleanly, or ends with a non-zero code): after 5 s, 10 s, then
// every 60 s, the failure count resetting after a day. Returns an empty string on success,
// else the reason (the caller logs it; a service without recovery still works).
std::string configureServiceRecovery(const std::string& serviceName);

}  // namespace te
