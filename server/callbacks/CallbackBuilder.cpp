#include "server/callbacks/CallbackBuilder.h"

#include <Poco/JSON/Object.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>

#include "shared/util/Json.h"

namespace te {
namespace {

// parameters.rest_endpoints: an array of URLs or one URL. Anything that is not a string is
// ignored rather than refused: the job was accepted long before this runs.
std::vector<std::string> jobEndpoints(const Job& job) {
    std::vector<std::string> out;
    Poco::JSON::Object::Ptr params;
    try {
        params = json::objectOrEmpty(job.parameters);
    } catch (const std::exception&) {
        return out;  // stored parameters were validated at submission; be lenient anyway
    }
    Poco::Dynamic::Var value = params->get("rest_endpoints");
    if (value.isEmpty()) return out;
    if (value.isString()) {
        out.push_back(value.extract<std::string>());
    } else if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
        auto arr = value.extract<Poco::JSON::Array::Ptr>();
        for (std::size_t i = 0; i < arr->size(); ++i) {
            Poco::Dynamic::Var item = arr->get(i);
            if (item.isString()) out.push_back(item.extract<std::string>());
        }
    }
    return out;
}

// The host of an http(s) URL, lower-case; empty when the text is not such a URL.
std::string httpHost(const std::string& url) {
    try {
        Poco::URI uri(url);
        std::string scheme = Poco::toLower(uri.getScheme());
        if (scheme != "http" && scheme != "https") return "";
        return Poco::toLower(uri.getHost());
    } catch (const Poco::Exception&) {
        return "";
    }
}

}  // namespace

CallbackBuilder::CallbackBuilder(const std::vector<ClientConfig>& clients,
                                 const CallbackConfig& config)
    : _clients(clients), _config(config) {}

const ClientConfig* CallbackBuilder::findClient(const std::string& name) const {
    for (const auto& c : _clients) {
        if (c.name == name) return &c;
    }
    return nullptr;
}

bool CallbackBuilder::hostAllowed(const std::string& host) const {
    if (_config.allowedHosts.empty()) return true;
    return std::any_of(_config.allowedHosts.begin(), _config.allowedHosts.end(),
                       [&](const std::string& h) { return Poco::icompare(h, host) == 0; });
}

std::vector<std::string> CallbackBuilder::endpoints(const Job& job, const JobDef* workflow,
                                                    std::vector<std::string>* rejected) const {
    std::vector<std::string> candidates = jobEndpoints(job);
    if (workflow) {
        candidates.insert(candidates.end(), workflow->callbackEndpoints.begin(),
                          workflow->callbackEndpoints.end());
    }
    if (const ClientConfig* client = findClient(job.client)) {
        candidates.insert(candidates.end(), client->callbackEndpoints.begin(),
                          client->callbackEndpoints.end());
    }
    std::vector<std::string> out;
    for (const auto& url : candidates) {
        if (std::find(out.begin(), out.end(), url) != out.end()) continue;
        std::string host = httpHost(url);
        if (host.empty()) continue;
        if (!hostAllowed(host)) {
            if (rejected && std::find(rejected->begin(), rejected->end(), url) == rejected->end()) {
                rejected->push_back(url);
            }
            continue;
        }
        out.push_back(url);
    }
    return out;
}

std::vector<CallbackEvent> CallbackBuilder::build(const Job& job, const Task* task,
                                                  const JobDef* workflow, const std::string& event,
                                                  const std::string& message, TimeMs at,
                                                  std::vector<std::string>* rejected) const {
    std::vector<std::string> urls = endpoints(job, workflow, rejected);
    if (urls.empty()) return {};

    // Key order as in the overview's example; receivers should not care, humans reading do.
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    body->set("job_id", static_cast<Poco::Int64>(job.id));
    body->set("task_id", static_cast<Poco::Int64>(task ? task->id : 0));
    body->set("task_name", task ? task->name : job.workflow);
    body->set("content_id", job.contentId);
    body->set("event", event);
    body->set("message", message);
    body->set("datetime", formatIsoSeconds(at));
    std::string bodyText = json::stringify(body);

    const ClientConfig* client = findClient(job.client);
    std::string headers = json::stringify(json::fromStringMap(
        client ? client->callbackHeaders : std::map<std::string, std::string>{}));

    std::vector<CallbackEvent> out;
    for (const auto& url : urls) {
        CallbackEvent e;
        e.jobId = job.id;
        e.taskId = task ? task->id : 0;
        e.url = url;
        e.headers = headers;
        e.body = bodyText;
        e.client = job.client;
        out.push_back(std::move(e));
    }
    return out;
}

}  // namespace te
