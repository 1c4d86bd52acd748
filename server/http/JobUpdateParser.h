#pragma once

#include <Poco/JSON/Object.h>

#include <string>

#include "server/engine/Engine.h"

namespace te {

// Turns a PUT /jobs/<id> body into a JobUpdate. Fields: queue_state (paused, broken or
// queued), run_at (UTC "yyyy-MM-ddTHH:mm:ss.fff"), priority (integer or numeric string),
// semaphore_url (or the reference's "sempahore_url"), persist. "client" may be present (the
// reference's sample has it) but must name the authenticated client. Anything else, or an
// update with no field, throws ValidationError.
class JobUpdateParser {
public:
    static JobUpdate parse(const Poco::JSON::Object::Ptr& body, const std::string& client);
};

}  // namespace te
