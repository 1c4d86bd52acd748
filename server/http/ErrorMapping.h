#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <cstdint>
#include <functional>
#include <string>

namespace te {

// The one place where exceptions become HTTP statuses:
//   HttpError -> its status (401, 405, 413, 400); ValidationError -> 400; NotFoundError -> 404;
//   ConflictError -> 409; StoreError -> 503 "database unavailable" (logged);
//   anything else -> 500 with a generic message (logged with the real reason).
// Errors on a known job carry its "id". After an error the connection is closed (any unread
// body is drained first, up to a cap, so the client reads the answer instead of a reset).
class ErrorMapping {
public:
    struct Context {
        std::int64_t jobId = 0;                          // non-zero: added as "id" to 400/409
        std::string internalMessage = "internal error";  // the 500 text
        std::size_t drainCap = 16 << 20;                 // bytes of unread body to discard
    };

    static void run(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                    const Context& context, const std::function<void()>& handle);

    // Sends {"error"} with `status` (and Allow for 405), then drains the body.
    static void sendError(Poco::Net::HTTPServerRequest& request,
                          Poco::Net::HTTPServerResponse& response, const Context& context,
                          int status, const std::string& message, std::int64_t id = 0,
                          const std::string& allow = "");
};

}  // namespace te
