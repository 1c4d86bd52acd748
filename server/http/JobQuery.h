#pragma once

#include <map>
#include <string>

#include "server/store/Store.h"

namespace te {

// The query string of GET /jobs as a JobFilter, always limited to the authenticated client:
//   limit 1..1000 (10), order_by one of Store::sortableJobColumns() (id), asc 1/0/true/false,
//   state ids or names (comma-separated), from/to ISO times on created_at, failed 1/0/true/false,
//   search (content_id), job_ids (comma-separated), client, persist.
// Throws ValidationError naming the parameter for a bad value or an unknown parameter.
struct JobQuery {
    JobFilter filter;
    // True when no job can match: ?client= names another client, or failed=true with only
    // states other than completed (the reference returns nothing then).
    bool matchesNothing = false;

    static JobQuery parse(const std::map<std::string, std::string>& params,
                          const std::string& client);
};

}  // namespace te
