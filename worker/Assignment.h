#pragma once

#include <map>
#include <string>
#include <vector>

namespace te {

// One ASSIGN message (shared/protocol/Protocol.h), parsed. A value type: copied freely.
struct Assignment {
    long long taskId = 0;
    long long jobId = 0;
    std::string name;
    std::string queue;
    std::string builtin;  // empty: a process task
    std::string command;  // templates with {placeholders}
    std::vector<std::string> args;
    std::map<std::string, std::string> inputs;
    std::vector<std::string> envInputs;
    std::map<std::string, std::string> env;
    int timeoutSec = 0;  // 0: none

    // Throws ValidationError naming the bad field. Missing optional fields take the defaults.
    static Assignment parse(const std::string& json);
};

}  // namespace te
