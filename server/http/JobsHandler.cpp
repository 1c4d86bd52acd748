#include "server/http/JobsHandler.h"

#include <Poco/NumberParser.h>

#include <chrono>
#include <cmath>
#include <optional>

#include "server/engine/Engine.h"
#include "server/http/FieldReader.h"
#include "server/http/HttpError.h"
#include "server/http/JobQuery.h"
#include "server/http/JobUpdateParser.h"
#include "server/http/JsonViews.h"
#include "server/http/SubmissionParser.h"
#include "shared/model/Job.h"

namespace te {
namespace {

Poco::JSON::Object::Ptr accepted(std::int64_t id) {
    auto o = JsonViews::object();
    o->set("id", static_cast<Poco::Int64>(id));
    o->set("result", "accepted");
    return o;
}

// GET /jobs/<id>?wait=S waits this long at most.
constexpr double kMaxWaitSeconds = 30;

// ?wait=S, in milliseconds; 0 when absent. Other query parameters are ignored, as before.
std::chrono::milliseconds waitParameter(const std::map<std::string, std::string>& query) {
    auto it = query.find("wait");
    if (it == query.end()) return std::chrono::milliseconds(0);
    double seconds = 0;
    if (!Poco::NumberParser::tryParseFloat(it->second, seconds) || !std::isfinite(seconds) ||
        seconds < 0 || seconds > kMaxWaitSeconds) {
        throw HttpError(400, "wait must be a number of seconds from 0 to 30");
    }
    return std::chrono::milliseconds(std::llround(seconds * 1000));
}

}  // namespace

void JobsHandler::handle(Poco::Net::HTTPServerRequest& request,
                         Poco::Net::HTTPServerResponse& response) {
    using R = Route::Resource;
    switch (_route.resource) {
        case R::Job:
            submit(request, response);
            return;
        case R::Jobs:
            list(request, response);
            return;
        case R::JobItem:
            if (request.getMethod() == "PUT") {
                update(request, response);
            } else {
                show(request, response);
            }
            return;
        case R::JobRerun: {
            std::string client = authenticate(request);
            send(response, accepted(_context.engine.rerun(client, _route.jobId)));
            return;
        }
        case R::JobTasks: {
            std::string client = authenticate(request);
            Poco::JSON::Array::Ptr tasks = new Poco::JSON::Array;
            for (const Task& t : _context.engine.tasks(client, _route.jobId)) {
                tasks->add(JsonViews::task(t));
            }
            send(response, tasks);
            return;
        }
        default:
            throw std::logic_error("JobsHandler routed a resource it does not serve");
    }
}

void JobsHandler::submit(Poco::Net::HTTPServerRequest& request,
                         Poco::Net::HTTPServerResponse& response) {
    // The reference's 500 answer for POST /job.
    _errors.internalMessage = "Unable to create job request";
    // The overview's curl sends only API-KEY and names the client in the body; with a client
    // header, authenticate before reading the body.
    const std::string headerClient = request.get("client", "");
    std::string client;
    if (!headerClient.empty()) client = authenticate(headerClient, request);
    Poco::JSON::Object::Ptr body = readObject(request);
    std::optional<std::string> bodyClient = FieldReader(body).string("client");
    if (client.empty()) {
        client = authenticate(bodyClient.value_or(""), request);
    } else if (bodyClient && *bodyClient != client) {
        throw ValidationError("the client header and the body's client differ");
    }
    Submission submission = SubmissionParser::parse(body, client, request);
    send(response, accepted(_context.engine.submit(submission)));
}

void JobsHandler::list(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) {
    // The reference lists GET /jobs without authentication; DESIGN.md says a client sees only
    // its own jobs, which needs to know the client. See docs/api.md.
    std::string client = authenticate(request);
    JobQuery q = JobQuery::parse(query(request), client);
    Poco::JSON::Array::Ptr jobs = new Poco::JSON::Array;
    if (!q.matchesNothing) {
        for (const JobView& v : _context.engine.listJobs(q.filter)) {
            jobs->add(JsonViews::job(v, JsonViews::JobFields::Listed));
        }
    }
    send(response, jobs);
}

void JobsHandler::update(Poco::Net::HTTPServerRequest& request,
                         Poco::Net::HTTPServerResponse& response) {
    std::string client = authenticate(request);
    JobUpdate update = JobUpdateParser::parse(readObject(request), client);
    std::string done = _context.engine.updateJob(client, _route.jobId, update);
    auto o = JsonViews::object();
    o->set("id", static_cast<Poco::Int64>(_route.jobId));
    // Engine.h promises the bare list; accept an engine that already added the prefix.
    const std::string prefix = "Performed updates: ";
    o->set("result", done.rfind(prefix, 0) == 0 ? done : prefix + done);
    send(response, o);
}

// With ?wait=S the answer waits until the job ends (completed or broken), or S seconds at
// most, and is then the job as it is: a client learns of the end without polling. The wait
// is registered before the read, so an end between the two still wakes it.
void JobsHandler::show(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) {
    const std::string client = authenticate(request);
    const auto wait = request.getURI().find('?') == std::string::npos
                          ? std::chrono::milliseconds(0)
                          : waitParameter(query(request));
    const auto deadline = JobWaits::Clock::now() + wait;
    std::optional<JobWaits::Waiter> waiter;
    if (wait.count() > 0) waiter.emplace(_context.waits, _route.jobId);
    JobView view = _context.engine.getJob(client, _route.jobId);
    if (waiter && waiter->registered() && !isTerminal(view.job.state)) {
        waiter->waitUntil(deadline);
        view = _context.engine.getJob(client, _route.jobId);
    }
    send(response, JsonViews::job(view, JsonViews::JobFields::Full));
}

}  // namespace te
