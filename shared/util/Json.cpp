#include "shared/util/Json.h"

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/TextIterator.h>
#include <Poco/UTF8Encoding.h>

#include <sstream>

#include "shared/Errors.h"

namespace te::json {
namespace {

bool validUtf8(const std::string& text) {
    Poco::UTF8Encoding utf8;
    Poco::TextIterator it(text, utf8);
    Poco::TextIterator end(text);
    for (; it != end; ++it) {
        if (*it == -1) return false;
    }
    return true;
}

}  // namespace

Poco::Dynamic::Var parse(const std::string& text, std::size_t maxDepth) {
    if (!validUtf8(text)) throw ValidationError("malformed JSON: invalid UTF-8");
    try {
        Poco::JSON::Parser parser;
        parser.setDepth(maxDepth);
        return parser.parse(text);
    } catch (const Poco::Exception& e) {
        throw ValidationError("malformed JSON: " + e.message());
    } catch (const std::exception& e) {
        throw ValidationError(std::string("malformed JSON: ") + e.what());
    }
}

Poco::JSON::Object::Ptr parseObject(const std::string& text, std::size_t maxDepth) {
    Poco::Dynamic::Var v = parse(text, maxDepth);
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) {
        throw ValidationError("the body must be a JSON object");
    }
    return v.extract<Poco::JSON::Object::Ptr>();
}

Poco::JSON::Object::Ptr objectOrEmpty(const std::string& text) {
    if (text.empty()) return new Poco::JSON::Object;
    Poco::Dynamic::Var v = parse(text, 1000);
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) return new Poco::JSON::Object;
    return v.extract<Poco::JSON::Object::Ptr>();
}

Poco::JSON::Array::Ptr arrayOrEmpty(const std::string& text) {
    if (text.empty()) return new Poco::JSON::Array;
    Poco::Dynamic::Var v = parse(text, 1000);
    if (v.type() != typeid(Poco::JSON::Array::Ptr)) return new Poco::JSON::Array;
    return v.extract<Poco::JSON::Array::Ptr>();
}

std::string stringify(const Poco::Dynamic::Var& value) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(value, out);
    return out.str();
}

std::string stringify(const Poco::JSON::Object::Ptr& value) {
    return stringify(Poco::Dynamic::Var(value));
}

std::string stringify(const Poco::JSON::Array::Ptr& value) {
    return stringify(Poco::Dynamic::Var(value));
}

std::string toArgString(const Poco::Dynamic::Var& value) {
    if (value.isEmpty()) return "";
    if (value.isString()) return value.extract<std::string>();
    if (value.type() == typeid(Poco::JSON::Object::Ptr) ||
        value.type() == typeid(Poco::JSON::Array::Ptr)) {
        return stringify(value);
    }
    return value.convert<std::string>();
}

std::map<std::string, std::string> toStringMap(const Poco::JSON::Object::Ptr& obj) {
    std::map<std::string, std::string> out;
    if (!obj) return out;
    for (const auto& kv : *obj) out[kv.first] = toArgString(kv.second);
    return out;
}

Poco::JSON::Object::Ptr fromStringMap(const std::map<std::string, std::string>& map) {
    Poco::JSON::Object::Ptr obj = new Poco::JSON::Object;
    for (const auto& kv : map) obj->set(kv.first, kv.second);
    return obj;
}

std::vector<std::string> toStringList(const Poco::JSON::Array::Ptr& arr) {
    std::vector<std::string> out;
    if (!arr) return out;
    for (const auto& v : *arr) out.push_back(toArgString(v));
    return out;
}

Poco::JSON::Array::Ptr fromStringList(const std::vector<std::string>& list) {
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& s : list) arr->add(s);
    return arr;
}

}  // namespace te::json
