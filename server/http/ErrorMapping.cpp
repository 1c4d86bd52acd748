#include "server/http/ErrorMapping.h"

#include <Poco/Exception.h>
#include <Poco/Logger.h>

#include <istream>

#include "server/http/HttpError.h"
#include "server/http/JsonResponse.h"
#include "shared/Errors.h"

namespace te {
namespace {

Poco::Logger& logger() { return Poco::Logger::get("http"); }

std::string describe(const Poco::Net::HTTPServerRequest& request) {
    return request.getMethod() + " " + JsonResponse::printable(request.getURI());
}

}  // namespace

void ErrorMapping::sendError(Poco::Net::HTTPServerRequest& request,
                             Poco::Net::HTTPServerResponse& response, const Context& context,
                             int status, const std::string& message, std::int64_t id,
                             const std::string& allow) {
    if (response.sent()) return;  // a failure while sending: nothing more can be said
    bool hasBody = request.getChunkedTransferEncoding() ||
                   (request.hasContentLength() && request.getContentLength64() > 0);
    if (hasBody) response.setKeepAlive(false);
    if (!allow.empty()) response.set("Allow", allow);
    JsonResponse::sendError(response, status, message, id);
    if (!hasBody) return;
    // Read what the client still sends (bounded by count and by the receive timeout), so it
    // gets to read our answer rather than a connection reset.
    try {
        std::istream& in = request.stream();
        char buffer[8192];
        std::size_t total = 0;
        while (total < context.drainCap && in.read(buffer, sizeof buffer).gcount() > 0) {
            total += static_cast<std::size_t>(in.gcount());
        }
    } catch (const std::exception&) {
        // The client went away or stalled; the connection is closed either way.
    }
}

void ErrorMapping::run(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response, const Context& context,
                       const std::function<void()>& handle) {
    try {
        handle();
    } catch (const HttpError& e) {
        sendError(request, response, context, e.status(), e.what(), 0, e.allow());
    } catch (const ValidationError& e) {
        sendError(request, response, context, 400, e.what(), context.jobId);
    } catch (const NotFoundError& e) {
        sendError(request, response, context, 404, e.what());
    } catch (const ConflictError& e) {
        sendError(request, response, context, 409, e.what(), context.jobId);
    } catch (const StoreError& e) {
        logger().error("%s: database error: %s", describe(request), std::string(e.what()));
        sendError(request, response, context, 503, "database unavailable");
    } catch (const Poco::Exception& e) {
        logger().error("%s: %s", describe(request), e.displayText());
        sendError(request, response, context, 500, context.internalMessage);
    } catch (const std::exception& e) {
        logger().error("%s: %s", describe(request), std::string(e.what()));
        sendError(request, response, context, 500, context.internalMessage);
    } catch (...) {
        logger().error("%s: unknown exception", describe(request));
        sendError(request, response, context, 500, context.internalMessage);
    }
}

}  // namespace te
