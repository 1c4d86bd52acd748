#pragma once

#include <Poco/Util/Application.h>

namespace te {

// What a program's main() returns, given what Poco::Util::ServerApplication::run(argc, argv)
// answered and whether the program's own main() ran. run() reports an option that its
// parser refuses (an unknown flag, a flag without its value) as EXIT_CONFIG, before the
// program's main() runs. That is a usage error, EXIT_USAGE (64) as sysexits.h has it, so a
// script or a supervisor can tell it from a bad config or flag value (EXIT_CONFIG, 78).
inline int programExitCode(int rc, bool reachedMain) {
    using App = Poco::Util::Application;
    return !reachedMain && rc == App::EXIT_CONFIG ? App::EXIT_USAGE : rc;
}

}  // namespace te
