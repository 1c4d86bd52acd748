#pragma once

#include <string>

#include "shared/Errors.h"

namespace te {

// An error that only the HTTP layer knows: 401, 405, 413, or a 400 raised before any JSON is
// parsed. ErrorMapping sends `status` with {"error": what()} (and Allow for 405).
class HttpError : public Error {
public:
    HttpError(int status, const std::string& message, std::string allow = "")
        : Error(message), _status(status), _allow(std::move(allow)) {}
    int status() const { return _status; }
    const std::string& allow() const { return _allow; }

private:
    int _status;
    std::string _allow;
};

}  // namespace te
