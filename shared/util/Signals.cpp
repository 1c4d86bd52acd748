#include "shared/util/Signals.h"

#ifndef _WIN32
#include <pthread.h>

#include <csignal>
#endif

namespace te {

void blockTerminationSignals() {
#ifndef _WIN32
    sigset_t termination;
    sigemptyset(&termination);
    sigaddset(&termination, SIGINT);
    sigaddset(&termination, SIGTERM);
    sigaddset(&termination, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &termination, nullptr);
#endif
}

}  // namespace te
