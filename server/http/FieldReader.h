#pragma once

#include <Poco/JSON/Object.h>

#include <optional>
#include <string>
#include <vector>

#include "shared/model/Time.h"

namespace te {

// Typed access to the fields of a request body. Every method returns nullopt when the field
// is absent and throws ValidationError naming the field when it has the wrong type or form,
// so handlers state what they accept in one line each.
class FieldReader {
public:
    explicit FieldReader(Poco::JSON::Object::Ptr object, std::string prefix = "");

    std::optional<std::string> string(const std::string& name) const;
    // A JSON integer, or a string of one ("2", as in the reference's PUT sample).
    std::optional<int> integer(const std::string& name) const;
    // true/false, or 1/0.
    std::optional<bool> boolean(const std::string& name) const;
    // A string that parseIso accepts ("2020-09-09T14:30:00.000", UTC when no zone).
    std::optional<TimeMs> time(const std::string& name) const;
    // An http:// or https:// URL (the scheduler calls it), or "" to clear.
    std::optional<std::string> url(const std::string& name) const;
    std::optional<Poco::JSON::Object::Ptr> object(const std::string& name) const;

    // Throws ValidationError "unknown field X" for a field not in `known`.
    void rejectUnknown(const std::vector<std::string>& known) const;

private:
    std::string label(const std::string& name) const;
    Poco::JSON::Object::Ptr _object;
    std::string _prefix;  // "job." for fields of the nested job object, for messages
};

}  // namespace te
