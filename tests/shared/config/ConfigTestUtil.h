#pragma once

// Helpers of the config tests: write a config as a real file, load it, and return the
// ConfigError line it must produce.

#include <cppunit/extensions/HelperMacros.h>

#include <functional>
#include <string>

#include "shared/Errors.h"
#include "tests/support/TestUtil.h"

namespace te::test {

inline void assertContains(const std::string& text, const std::string& part) {
    CPPUNIT_ASSERT_MESSAGE("'" + text + "' lacks '" + part + "'",
                           text.find(part) != std::string::npos);
}

// Writes `yaml` to DIR/NAME, calls load(path), and returns the ConfigError's message after
// checking it is one line starting with the path.
inline std::string configError(const std::string& name, const std::string& yaml,
                               const std::function<void(const std::string&)>& load) {
    TempDir dir;
    std::string path = dir.file(name);
    writeFile(path, yaml);
    try {
        load(path);
    } catch (const ConfigError& e) {
        std::string what = e.what();
        CPPUNIT_ASSERT_MESSAGE(what, what.rfind(path + ": ", 0) == 0);
        CPPUNIT_ASSERT_MESSAGE(what, what.find('\n') == std::string::npos);
        return what.substr(path.size() + 2);
    }
    CPPUNIT_FAIL("no ConfigError for:\n" + yaml);
    return {};
}

}  // namespace te::test
