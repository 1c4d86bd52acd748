#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <map>
#include <string>
#include <vector>

namespace te::json {

// Parses JSON text with a nesting limit. Throws ValidationError("malformed JSON: ...") on bad
// syntax, invalid UTF-8 or nesting deeper than maxDepth.
Poco::Dynamic::Var parse(const std::string& text, std::size_t maxDepth = 64);
// parse() that also requires an object ("... must be a JSON object" otherwise).
Poco::JSON::Object::Ptr parseObject(const std::string& text, std::size_t maxDepth = 64);
// Empty text gives an empty object / array.
Poco::JSON::Object::Ptr objectOrEmpty(const std::string& text);
Poco::JSON::Array::Ptr arrayOrEmpty(const std::string& text);

// Compact JSON text.
std::string stringify(const Poco::Dynamic::Var& value);
std::string stringify(const Poco::JSON::Object::Ptr& value);
std::string stringify(const Poco::JSON::Array::Ptr& value);

// A JSON value as the string a placeholder receives: strings as they are, numbers and
// booleans in their JSON form, objects and arrays as compact JSON, null as "".
std::string toArgString(const Poco::Dynamic::Var& value);

// {"a": "x", "n": 1} -> {a: "x", n: "1"} via toArgString.
std::map<std::string, std::string> toStringMap(const Poco::JSON::Object::Ptr& obj);
Poco::JSON::Object::Ptr fromStringMap(const std::map<std::string, std::string>& map);
std::vector<std::string> toStringList(const Poco::JSON::Array::Ptr& arr);
Poco::JSON::Array::Ptr fromStringList(const std::vector<std::string>& list);

}  // namespace te::json
