#include "worker/Builtins.h"

#include <Poco/File.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/NullStream.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <chrono>
#include <cmath>

namespace te {
namespace {

// A stop request's FAILED: CANCEL fails the task, a stopping worker hands it back.
TaskOutcome stopped(TaskControl::Stop why) {
    if (why == TaskControl::Stop::HandBack) {
        return TaskOutcome::failed("worker stopped before the task ended", std::nullopt, true);
    }
    return TaskOutcome::failed("cancelled");
}

}  // namespace

bool Builtins::exists(const std::string& name) {
    return name == "noop" || name == "sleep" || name == "http" || name == "copy" || name == "move";
}

TaskOutcome Builtins::run(const std::string& name, const std::vector<std::string>& args,
                          int timeoutSec, TaskControl& control) {
    try {
        if (name == "noop") return TaskOutcome::done();
        if (name == "sleep") return sleep(args, control);
        if (name == "http") return http(args, timeoutSec);
        if (name == "copy") return copyOrMove(args, false);
        if (name == "move") return copyOrMove(args, true);
        return TaskOutcome::failed("unknown builtin: " + name);
    } catch (const Poco::Exception& e) {
        return TaskOutcome::failed(name + ": " + e.displayText());
    } catch (const std::exception& e) {
        return TaskOutcome::failed(name + ": " + e.what());
    }
}

TaskOutcome Builtins::sleep(const std::vector<std::string>& args, TaskControl& control) {
    double seconds = 0;
    if (!args.empty()) {
        std::size_t used = 0;
        try {
            seconds = std::stod(args[0], &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != args[0].size() || !std::isfinite(seconds) || seconds < 0) {
            return TaskOutcome::failed("sleep: not a number of seconds: '" + args[0] + "'");
        }
    }
    auto duration = std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0));
    if (control.waitForStop(duration)) return stopped(control.stopRequested());
    return TaskOutcome::done();
}

TaskOutcome Builtins::http(const std::vector<std::string>& args, int timeoutSec) {
    if (args.empty() || args[0].empty()) return TaskOutcome::failed("http: no url given");
    std::string method = args.size() > 1 && !args[1].empty() ? args[1] : "GET";
    Poco::URI uri(args[0]);
    if (uri.getScheme() == "https") {
        // NetSSL is not linked into the worker (the Windows cross build has no OpenSSL);
        // an https step belongs in a process task (curl) for now.
        return TaskOutcome::failed(
            "http: https is not supported by the builtin, use a process task: " + args[0]);
    }
    if (uri.getScheme() != "http" || uri.getHost().empty()) {
        return TaskOutcome::failed("http: not an http:// url: " + args[0]);
    }
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(timeoutSec > 0 ? timeoutSec : 60, 0));
    Poco::Net::HTTPRequest request(method,
                                   uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery(),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentLength(0);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& body = session.receiveResponse(response);
    Poco::NullOutputStream sink;
    Poco::StreamCopier::copyStream(body, sink);
    int status = static_cast<int>(response.getStatus());
    if (status < 200 || status > 299) {
        return TaskOutcome::failed("http: " + method + " " + args[0] + " answered " +
                                   std::to_string(status) + " " + response.getReason());
    }
    Poco::JSON::Object::Ptr output = new Poco::JSON::Object;
    output->set("status", status);
    return TaskOutcome::done(output);
}

TaskOutcome Builtins::copyOrMove(const std::vector<std::string>& args, bool move) {
    const char* verb = move ? "move" : "copy";
    if (args.size() < 2 || args[0].empty() || args[1].empty()) {
        return TaskOutcome::failed(std::string(verb) + ": needs two arguments [from, to]");
    }
    Poco::File from(args[0]);
    if (!from.exists()) {
        return TaskOutcome::failed(std::string(verb) + ": source does not exist: " + args[0]);
    }
    Poco::Path target(args[1]);
    Poco::Path parent = Poco::Path(target).makeParent();
    if (!parent.toString().empty()) Poco::File(parent).createDirectories();
    if (!move) {
        from.copyTo(args[1]);
    } else {
        try {
            from.renameTo(args[1]);
        } catch (const Poco::Exception&) {
            // rename() cannot cross file systems: copy, then remove the source.
            from.copyTo(args[1]);
            from.remove(true);
        }
    }
    return TaskOutcome::done();
}

}  // namespace te
