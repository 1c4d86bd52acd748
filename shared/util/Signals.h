#pragma once

namespace te {

// Blocks SIGTERM, SIGINT and SIGQUIT in the calling thread and in every thread it starts
// afterwards, so that only Poco's waitForTerminationRequest() (sigwait) takes them. Call in
// main before starting any thread. A thread that had them unblocked took a signal sent
// before the main thread reached sigwait, and the default action killed the process: no
// clean stop, no STOPPING=1 (seen as a server killed by a SIGTERM right after READY=1).
// Blocked, a signal sent early waits and sigwait returns it at once. Nothing on Windows.
void blockTerminationSignals();

}  // namespace te
