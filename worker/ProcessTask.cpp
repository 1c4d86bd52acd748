#include "worker/ProcessTask.h"

#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>

#include <chrono>

#include "shared/Errors.h"
#include "shared/util/Json.h"
#include "worker/OutputPump.h"
#include "worker/Platform.h"
#include "worker/RandomHex.h"

namespace te {
namespace {

using Clock = std::chrono::steady_clock;

// output.json and spawn.json larger than this are refused rather than read into memory.
constexpr std::size_t kMaxResultFileBytes = 16 * 1024 * 1024;

// The text of folder/name, or nothing when there is no such file.
std::optional<std::string> readOptional(const std::string& folder, const std::string& name) {
    Poco::File file(folder + "/" + name);
    if (!file.exists()) return std::nullopt;
    if (file.getSize() > kMaxResultFileBytes) throw ValidationError(name + " is too large");
    Poco::FileInputStream in(file.path());
    std::string text;
    Poco::StreamCopier::copyToString(in, text);
    return text;
}

bool isArrayOfObjects(const Poco::Dynamic::Var& value) {
    if (value.type() != typeid(Poco::JSON::Array::Ptr)) return false;
    auto array = value.extract<Poco::JSON::Array::Ptr>();
    for (std::size_t i = 0; i < array->size(); ++i) {
        if (array->get(i).type() != typeid(Poco::JSON::Object::Ptr)) return false;
    }
    return true;
}

// Removes the task folder when the task ends, whichever way it ends.
class FolderGuard {
public:
    FolderGuard(std::string path, bool keep) : _path(std::move(path)), _keep(keep) {}
    ~FolderGuard() {
        if (_keep) return;
        try {
            Poco::File(_path).remove(true);
        } catch (const Poco::Exception& e) {
            Poco::Logger::get("worker").warning("cannot remove %s: %s", _path, e.displayText());
        }
    }

private:
    std::string _path;
    bool _keep;
};

}  // namespace

ProcessTask::ProcessTask(const WorkerConfig& config, const Assignment& assignment,
                         std::string command, std::vector<std::string> args)
    : _config(config),
      _assignment(assignment),
      _command(std::move(command)),
      _args(std::move(args)) {}

TaskOutcome ProcessTask::run(TaskControl& control, TaskReporter& reporter) {
    Poco::Path folderPath(_config.workDir);
    folderPath.makeAbsolute();
    folderPath.makeDirectory();
    folderPath.pushDirectory("task-" + std::to_string(_assignment.taskId) + "-" + randomHex(8));
    std::string folder = folderPath.toString(Poco::Path::PATH_NATIVE);
    if (!folder.empty() && (folder.back() == '/' || folder.back() == '\\')) folder.pop_back();
    try {
        Poco::File(folder).createDirectories();
    } catch (const Poco::Exception& e) {
        return TaskOutcome::failed("cannot create task folder " + folder + ": " + e.displayText(),
                                   std::nullopt, true);
    }
    FolderGuard guard(folder, _config.keepWorkDirs);
    return execute(folder, control, reporter);
}

TaskOutcome ProcessTask::execute(const std::string& folder, TaskControl& control,
                                 TaskReporter& reporter) {
    platform::LaunchSpec spec;
    spec.env = platform::currentEnvironment();
    for (const auto& [k, v] : _config.env) spec.env[k] = v;
    for (const auto& [k, v] : _assignment.env) spec.env[k] = v;
    auto path = spec.env.find("PATH");
    std::string program = platform::resolveExecutable(
        _command,
        path != spec.env.end() ? path->second : std::string("/usr/local/bin:/usr/bin:/bin"));
    if (program.empty()) return TaskOutcome::failed("command not found: " + _command);
    spec.argv.push_back(program);
    spec.argv.insert(spec.argv.end(), _args.begin(), _args.end());
    spec.cwd = folder;

    std::unique_ptr<platform::ChildProcess> child;
    try {
        child = platform::launch(spec);
    } catch (const Error& e) {
        return TaskOutcome::failed(e.what());
    }
    OutputPump pump(*child);
    const auto started = Clock::now();
    const bool hasTimeout = _assignment.timeoutSec > 0;
    const auto deadline = started + std::chrono::seconds(_assignment.timeoutSec);
    std::optional<int> exitCode;
    std::string stopReason;
    bool handBack = false;
    while (!(exitCode = child->wait(50))) {
        pump.deliver(reporter);
        auto why = control.stopRequested();
        if (why == TaskControl::Stop::Cancel) stopReason = "cancelled";
        if (why == TaskControl::Stop::HandBack) {
            stopReason = "worker stopped before the task ended";
            handBack = true;
        }
        if (hasTimeout && Clock::now() >= deadline) {
            stopReason = "timed out after " + std::to_string(_assignment.timeoutSec) + " s";
        }
        if (stopReason.empty()) continue;
        // Polite first: give the group a chance to clean up, then no more chances.
        child->terminateGroup();
        exitCode = child->wait(kKillGraceMs);
        break;
    }
    // Also ends whatever the process left behind in its group, which closes the pipes.
    child->killGroup();
    pump.finish(reporter);
    if (!stopReason.empty()) {
        return TaskOutcome::failed(stopReason, std::nullopt, handBack);
    }
    if (*exitCode != 0) {
        std::string error = "exited with code " + std::to_string(*exitCode);
        std::string last = pump.lastStderrLine();
        if (!last.empty()) error += ": " + last;
        return TaskOutcome::failed(error, exitCode);
    }
    return readResults(folder, *exitCode);
}

TaskOutcome ProcessTask::readResults(const std::string& folder, int exitCode) {
    Poco::JSON::Object::Ptr output;
    Poco::Dynamic::Var spawn;
    try {
        if (auto text = readOptional(folder, "output.json")) {
            Poco::Dynamic::Var value = json::parse(*text);
            if (value.type() != typeid(Poco::JSON::Object::Ptr)) {
                return TaskOutcome::failed("output.json is not a JSON object", exitCode);
            }
            output = value.extract<Poco::JSON::Object::Ptr>();
        }
    } catch (const std::exception& e) {
        return TaskOutcome::failed(std::string("output.json is not a JSON object: ") + e.what(),
                                   exitCode);
    }
    try {
        if (auto text = readOptional(folder, "spawn.json")) {
            Poco::Dynamic::Var value = json::parse(*text);
            if (!isArrayOfObjects(value)) {
                return TaskOutcome::failed("spawn.json is not a JSON array of objects", exitCode);
            }
            spawn = value;
        }
    } catch (const std::exception& e) {
        return TaskOutcome::failed(
            std::string("spawn.json is not a JSON array of objects: ") + e.what(), exitCode);
    }
    return TaskOutcome::done(output, spawn, exitCode);
}

}  // namespace te
