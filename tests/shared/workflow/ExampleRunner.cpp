#include "tests/shared/workflow/ExampleRunner.h"

#include <Poco/File.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>

#include "shared/Errors.h"
#include "tests/support/TestUtil.h"

namespace te::test {
namespace {

Strings toStrings(const Poco::JSON::Object& object) {
    Strings out;
    for (const auto& kv : object) out[kv.first] = kv.second.toString();
    return out;
}

}  // namespace

ExampleRunner::ExampleRunner(const WorkflowSet& set, std::string workRoot, Strings env)
    : _set(set), _workRoot(std::move(workRoot)), _env(std::move(env)) {}

bool ExampleRunner::run(const std::string& jobKey, const Strings& parameters,
                        const Strings& headers) {
    const JobDef* job = _set.findJob(jobKey);
    if (!job) throw ValidationError("unknown workflow '" + jobKey + "'");
    for (const auto& [name, def] : job->input) {
        std::optional<std::string> value;
        if (def.source == InputSource::HttpHeader) {
            if (headers.count(def.key)) value = headers.at(def.key);
        } else if (parameters.count(name)) {
            value = parameters.at(name);
        }
        if (!value) value = def.defaultValue;
        if (!value && def.required) throw ValidationError("missing input '" + name + "'");
        if (value) _base[name] = *value;
    }
    for (const auto& [name, value] : parameters) _base.emplace(name, value);

    for (const StageDef& stage : job->stages) {
        const TaskClass& task = *_set.findTask(stage.taskClass);
        std::vector<Strings> elements{Strings()};
        if (!stage.spawnTask.empty()) {
            elements.clear();
            if (runTask(*_set.findTask(stage.spawnTask), {}, &elements) != 0) return false;
        }
        int failedBefore = _failedTasks;
        for (const Strings& element : elements) runTask(task, element, nullptr);
        if (_failedTasks > failedBefore && stage.jobFailedOnError) return false;
    }
    return true;
}

int ExampleRunner::runTask(const TaskClass& task, const Strings& element,
                           std::vector<Strings>* spawn) {
    std::string dir = _workRoot + "/task-" + std::to_string(++_taskCount);
    Poco::File(dir).createDirectories();

    // Lowest first, so each later layer overrides: the documented resolution order.
    Strings values = _base;
    for (const auto& [k, v] : _context) values[k] = v;
    for (const auto& [k, v] : element) values[k] = v;
    for (const auto& [name, def] : task.input) {
        if (def.source == InputSource::Environment && _env.count(name))
            values[name] = _env.at(name);
    }
    std::string command;
    std::vector<std::string> args;
    try {
        command = fillPlaceholders(task.execCommand, values);
        for (const auto& arg : task.execArgs) args.push_back(fillPlaceholders(arg, values));
    } catch (const ValidationError& e) {
        _log += task.key + ": " + e.what() + "\n";
        ++_failedTasks;
        return -1;
    }

    Poco::Pipe out;
    Poco::ProcessHandle ph = Poco::Process::launch(command, args, dir, nullptr, &out, &out);
    Poco::PipeInputStream in(out);
    std::string text;
    Poco::StreamCopier::copyToString(in, text);
    int code = ph.wait();
    _log += task.key + " [" + std::to_string(code) + "]: " + text;
    if (code != 0) {
        ++_failedTasks;
        return code;
    }

    Poco::JSON::Parser parser;
    if (Poco::File(dir + "/output.json").exists()) {
        auto object =
            parser.parse(readFile(dir + "/output.json")).extract<Poco::JSON::Object::Ptr>();
        for (const auto& [k, v] : toStrings(*object)) _context[k] = v;
    }
    if (spawn) {
        parser.reset();
        auto array = parser.parse(readFile(dir + "/spawn.json")).extract<Poco::JSON::Array::Ptr>();
        for (size_t i = 0; i < array->size(); ++i)
            spawn->push_back(toStrings(*array->getObject(i)));
    }
    return 0;
}

}  // namespace te::test
