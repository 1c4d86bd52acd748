#pragma once

#include <string>
#include <vector>

#include "worker/TaskControl.h"
#include "worker/TaskOutcome.h"

namespace te {

// The tasks a worker runs in-process, without a program (the workflow's `builtin:`):
//   noop []                  -> DONE {}
//   sleep [seconds]          -> waits (fractions allowed); a stop request ends it early
//   http [url, method=GET]   -> DONE {"status": N} for a 2xx answer, FAILED otherwise
//   copy [from, to], move [from, to] -> parent folders of `to` are created
// Relative paths are relative to the worker's current folder. Never throws.
class Builtins {
public:
    static bool exists(const std::string& name);
    // args are filled in already. timeoutSec > 0 bounds http.
    static TaskOutcome run(const std::string& name, const std::vector<std::string>& args,
                           int timeoutSec, TaskControl& control);

private:
    static TaskOutcome sleep(const std::vector<std::string>& args, TaskControl& control);
    static TaskOutcome http(const std::vector<std::string>& args, int timeoutSec);
    static TaskOutcome copyOrMove(const std::vector<std::string>& args, bool move);
};

}  // namespace te
