#include "server/http/FieldReader.h"

#include <Poco/NumberParser.h>
#include <Poco/URI.h>

#include <algorithm>
#include <limits>

#include "server/http/JsonResponse.h"
#include "shared/Errors.h"

namespace te {

FieldReader::FieldReader(Poco::JSON::Object::Ptr object, std::string prefix)
    : _object(std::move(object)), _prefix(std::move(prefix)) {}

std::string FieldReader::label(const std::string& name) const { return _prefix + name; }

std::optional<std::string> FieldReader::string(const std::string& name) const {
    if (!_object->has(name)) return std::nullopt;
    Poco::Dynamic::Var v = _object->get(name);
    if (!v.isString()) throw ValidationError(label(name) + " must be a string");
    std::string text = v.extract<std::string>();
    // JSON may say \u0000, but no database column or command argument can hold it.
    if (text.find('\0') != std::string::npos) {
        throw ValidationError(label(name) + " must not contain NUL characters");
    }
    return text;
}

std::optional<int> FieldReader::integer(const std::string& name) const {
    if (!_object->has(name)) return std::nullopt;
    Poco::Dynamic::Var v = _object->get(name);
    const std::string message = label(name) + " must be an integer";
    Poco::Int64 value = 0;
    if (v.isString()) {
        if (!Poco::NumberParser::tryParse64(v.extract<std::string>(), value)) {
            throw ValidationError(message);
        }
    } else if (v.isInteger() && !v.isBoolean()) {
        try {
            value = v.convert<Poco::Int64>();
        } catch (const Poco::Exception&) {
            throw ValidationError(message);
        }
    } else {
        throw ValidationError(message);
    }
    if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
        throw ValidationError(message);
    }
    return static_cast<int>(value);
}

std::optional<bool> FieldReader::boolean(const std::string& name) const {
    if (!_object->has(name)) return std::nullopt;
    Poco::Dynamic::Var v = _object->get(name);
    if (v.isBoolean()) return v.extract<bool>();
    if (v.isInteger()) {
        Poco::Int64 n = 0;
        try {
            n = v.convert<Poco::Int64>();
        } catch (const Poco::Exception&) {
            n = -1;
        }
        if (n == 0 || n == 1) return n == 1;
    }
    throw ValidationError(label(name) + " must be true or false");
}

std::optional<TimeMs> FieldReader::time(const std::string& name) const {
    std::optional<std::string> text = string(name);
    if (!text) return std::nullopt;
    std::optional<TimeMs> t = parseIso(*text);
    if (!t) {
        throw ValidationError(label(name) + " must be a UTC time like 2020-09-09T14:30:00.000");
    }
    return t;
}

std::optional<std::string> FieldReader::url(const std::string& name) const {
    std::optional<std::string> text = string(name);
    if (!text || text->empty()) return text;
    const std::string message = label(name) + " must be an http or https URL";
    try {
        Poco::URI uri(*text);
        if ((uri.getScheme() != "http" && uri.getScheme() != "https") || uri.getHost().empty()) {
            throw ValidationError(message);
        }
    } catch (const Poco::Exception&) {
        throw ValidationError(message);
    }
    return text;
}

std::optional<Poco::JSON::Object::Ptr> FieldReader::object(const std::string& name) const {
    if (!_object->has(name)) return std::nullopt;
    Poco::Dynamic::Var v = _object->get(name);
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) {
        throw ValidationError(label(name) + " must be a JSON object");
    }
    return v.extract<Poco::JSON::Object::Ptr>();
}

void FieldReader::rejectUnknown(const std::vector<std::string>& known) const {
    for (const auto& kv : *_object) {
        if (std::find(known.begin(), known.end(), kv.first) == known.end()) {
            throw ValidationError("unknown field " + label(JsonResponse::printable(kv.first)));
        }
    }
}

}  // namespace te
