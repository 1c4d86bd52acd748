#pragma once

#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/server/http/HttpTestClient.h"

namespace te::test {

// The status, a JSON {"error": ...} body containing `fragment`, and the JSON headers.
inline void assertError(const HttpReply& r, int status, const std::string& fragment,
                        const std::string& what = "") {
    std::string context = what + " -> " + std::to_string(r.status) + " " + r.body;
    CPPUNIT_ASSERT_EQUAL_MESSAGE(context, status, r.status);
    CPPUNIT_ASSERT_EQUAL_MESSAGE(context, std::string("application/json"),
                                 r.header("content-type"));
    std::string error = r.error();
    CPPUNIT_ASSERT_MESSAGE(context + ": no error text", !error.empty());
    CPPUNIT_ASSERT_MESSAGE(context + ": error should mention '" + fragment + "'",
                           error.find(fragment) != std::string::npos);
}

inline void assertOk(const HttpReply& r, const std::string& what = "") {
    CPPUNIT_ASSERT_EQUAL_MESSAGE(what + " -> " + r.body, 200, r.status);
    CPPUNIT_ASSERT_EQUAL_MESSAGE(what, std::string("application/json"), r.header("content-type"));
    CPPUNIT_ASSERT_EQUAL_MESSAGE(what, std::to_string(r.body.size()), r.header("content-length"));
}

// Exactly these keys, in this order (the reference's field order).
inline void assertKeys(const Poco::JSON::Object::Ptr& o, const std::vector<std::string>& keys,
                       const std::string& what = "") {
    std::vector<std::string> actual;
    o->getNames(actual);  // sorted by POCO; compare as sets first for a clear message
    std::vector<std::string> expected = keys;
    std::sort(actual.begin(), actual.end());
    std::sort(expected.begin(), expected.end());
    std::string a, e;
    for (const auto& k : actual) a += k + " ";
    for (const auto& k : expected) e += k + " ";
    CPPUNIT_ASSERT_EQUAL_MESSAGE(what, e, a);
}

inline bool isIsoMs(const std::string& text) {
    static const std::regex form(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
    return std::regex_match(text, form);
}

inline std::vector<long long> ids(const Poco::JSON::Array::Ptr& jobs) {
    std::vector<long long> out;
    for (std::size_t i = 0; i < jobs->size(); ++i) {
        out.push_back(jobs->getObject(static_cast<unsigned>(i))->getValue<long long>("id"));
    }
    return out;
}

inline std::string idList(const std::vector<long long>& v) {
    std::string s;
    for (long long id : v) s += (s.empty() ? "" : ",") + std::to_string(id);
    return s;
}

}  // namespace te::test
