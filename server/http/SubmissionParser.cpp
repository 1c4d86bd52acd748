#include "server/http/SubmissionParser.h"

#include <Poco/String.h>
#include <Poco/UTF8Encoding.h>

#include <set>

#include "server/http/FieldReader.h"
#include "server/http/JsonViews.h"
#include "shared/Errors.h"
#include "shared/util/Json.h"

namespace te {
namespace {

// Headers whose values are credentials: never written to a job's log in full.
const std::set<std::string> kSecretHeaders = {"api-key",       "x-api-key",           "x-auth-key",
                                              "authorization", "proxy-authorization", "cookie"};

std::string rackName(const std::string& header) {
    std::string name = "HTTP_" + Poco::toUpper(header);
    for (char& c : name) {
        if (c == '-') c = '_';
    }
    return name;
}

}  // namespace

Submission SubmissionParser::parse(const Poco::JSON::Object::Ptr& body, const std::string& client,
                                   const Poco::Net::HTTPServerRequest& request) {
    FieldReader top(body);
    top.rejectUnknown({"client", "job", "parameters"});
    std::optional<Poco::JSON::Object::Ptr> job = top.object("job");
    if (!job) throw ValidationError("job is required: {\"job\": {\"workflow\": \"name\"}}");
    FieldReader fields(*job, "job.");
    fields.rejectUnknown(
        {"workflow", "priority", "run_at", "semaphore_url", "sempahore_url", "persist"});

    Submission s;
    s.client = client;
    std::optional<std::string> workflow = fields.string("workflow");
    if (!workflow || workflow->empty()) throw ValidationError("job.workflow is required");
    s.workflow = *workflow;
    // Not value_or(new Object): its argument is made even when unused, and a raw pointer
    // that no Ptr takes is never freed (one object leaked per job with parameters).
    std::optional<Poco::JSON::Object::Ptr> parameters = top.object("parameters");
    s.parameters = parameters ? *parameters : Poco::JSON::Object::Ptr(new Poco::JSON::Object);
    // content_id becomes a column (for ?search=): it must be text the database can hold.
    Poco::Dynamic::Var contentId = s.parameters->get("content_id");
    if (contentId.isString() && contentId.extract<std::string>().find('\0') != std::string::npos) {
        throw ValidationError("parameters.content_id must not contain NUL characters");
    }
    s.priority = fields.integer("priority");
    s.runAt = fields.time("run_at");
    // The reference spells it "sempahore_url" once; both are accepted.
    std::optional<std::string> semaphore = fields.url("semaphore_url");
    if (!semaphore) semaphore = fields.url("sempahore_url");
    s.semaphoreUrl = semaphore.value_or("");
    s.persist = fields.boolean("persist").value_or(false);
    for (const auto& [name, value] : request) {
        s.headers[Poco::toLower(name)] = validUtf8(value);
    }
    s.requestLog = requestLog(body, request);
    return s;
}

std::string SubmissionParser::requestLog(const Poco::JSON::Object::Ptr& body,
                                         const Poco::Net::HTTPServerRequest& request) {
    auto headers = JsonViews::object();
    headers->set("HTTP_VERSION", request.getVersion());
    for (const auto& [name, value] : request) {
        std::string lower = Poco::toLower(name);
        std::string text = validUtf8(value);
        headers->set(rackName(lower), kSecretHeaders.count(lower) ? mask(text) : text);
    }
    auto log = JsonViews::object();
    log->set("path", "POST /job");
    log->set("remote_addr", request.clientAddress().host().toString());
    log->set("headers", headers);
    log->set("parameters", body);
    log->set("payload", "job_created");
    return json::stringify(log);
}

std::string SubmissionParser::mask(const std::string& secret) {
    if (secret.size() <= 4) return std::string(secret.size(), '*');
    return std::string(secret.size() - 4, '*') + secret.substr(secret.size() - 4);
}

std::string SubmissionParser::validUtf8(const std::string& text) {
    static const std::string replacement = "\xEF\xBF\xBD";
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        auto c = static_cast<unsigned char>(text[i]);
        int length = c < 0x80           ? 1
                     : (c >> 5) == 0x6  ? 2
                     : (c >> 4) == 0xE  ? 3
                     : (c >> 3) == 0x1E ? 4
                                        : 0;
        if (length > 0 && i + length <= text.size() &&
            Poco::UTF8Encoding::isLegal(reinterpret_cast<const unsigned char*>(text.data() + i),
                                        length) &&
            c != 0) {
            out.append(text, i, static_cast<std::size_t>(length));
            i += static_cast<std::size_t>(length);
        } else {
            out += replacement;
            ++i;
        }
    }
    return out;
}

}  // namespace te
