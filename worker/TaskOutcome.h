#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>

#include <optional>
#include <string>

namespace te {

// How a task ended: the body of its DONE or FAILED message.
struct TaskOutcome {
    bool ok = false;
    Poco::JSON::Object::Ptr output;  // DONE: output.json, never null
    Poco::Dynamic::Var spawn;        // DONE: spawn.json (an array) or empty for null
    std::optional<int> exitCode;     // empty: null (builtins, timeouts, cancels)
    std::string error;               // FAILED
    bool requeue = false;            // FAILED not by the task's own fault

    static TaskOutcome done(Poco::JSON::Object::Ptr output = nullptr,
                            Poco::Dynamic::Var spawn = Poco::Dynamic::Var(),
                            std::optional<int> exitCode = std::nullopt) {
        TaskOutcome o;
        o.ok = true;
        o.output = output ? output : Poco::JSON::Object::Ptr(new Poco::JSON::Object);
        o.spawn = spawn;
        o.exitCode = exitCode;
        return o;
    }
    static TaskOutcome failed(std::string error, std::optional<int> exitCode = std::nullopt,
                              bool requeue = false) {
        TaskOutcome o;
        o.error = std::move(error);
        o.exitCode = exitCode;
        o.requeue = requeue;
        return o;
    }
};

}  // namespace te
