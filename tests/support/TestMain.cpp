// The main() of every CppUnit test program: runs every registered suite, or only the tests
// whose names contain argv[1], and exits non-zero when any fails. TE_EXCLUDE_TESTS (names
// separated by commas) leaves out the tests whose names contain one of them, and says so:
// scripts/sanitize uses it for the tests that time what ThreadSanitizer slows. With
// TE_PG_FIXTURE_CHILD set it only starts a PostgreSQL fixture and waits (see
// PostgresFixtureTest).
#include <cppunit/BriefTestProgressListener.h>
#include <cppunit/CompilerOutputter.h>
#include <cppunit/TestComposite.h>
#include <cppunit/TestResult.h>
#include <cppunit/TestResultCollector.h>
#include <cppunit/TestRunner.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/PostgresFixture.h"

namespace {

std::vector<std::string> excludedNames() {
    std::vector<std::string> names;
    const char* list = std::getenv("TE_EXCLUDE_TESTS");
    if (!list) return names;
    std::stringstream in(list);
    for (std::string name; std::getline(in, name, ',');) {
        if (!name.empty()) names.push_back(name);
    }
    return names;
}

// The tests a filter picked, still owned by the registry's suite: TestRunner deletes what it
// is given, and giving it the picked tests themselves left their suite to leak (deleting it
// too would free them twice).
class Selection : public CppUnit::TestComposite {
public:
    Selection() : CppUnit::TestComposite("selected") {}
    void add(CppUnit::Test* test) { _tests.push_back(test); }
    int getChildTestCount() const override { return static_cast<int>(_tests.size()); }

protected:
    CppUnit::Test* doGetChildTestAt(int index) const override { return _tests.at(index); }

private:
    std::vector<CppUnit::Test*> _tests;
};

void collect(CppUnit::Test* test, const std::string& filter,
             const std::vector<std::string>& excluded, Selection& selection) {
    if (test->getChildTestCount() == 0) {
        const std::string& name = test->getName();
        if (name.find(filter) == std::string::npos) return;
        for (const auto& e : excluded) {
            if (name.find(e) != std::string::npos) {
                std::cout << name << " : excluded by TE_EXCLUDE_TESTS" << std::endl;
                return;
            }
        }
        selection.add(test);
        return;
    }
    for (int i = 0; i < test->getChildTestCount(); ++i)
        collect(test->getChildTestAt(i), filter, excluded, selection);
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    if (std::getenv("TE_PG_FIXTURE_CHILD")) {
        // A program that makes its cluster and then waits to be killed: what a test program
        // that ctest times out leaves behind (PostgresFixtureTest reaps it).
        std::cout << te::test::PostgresFixture::instance().port() << std::endl;
        for (;;) ::pause();
    }
    CppUnit::Test* all = CppUnit::TestFactoryRegistry::getRegistry().makeTest();
    std::unique_ptr<CppUnit::Test> keep;  // the registry's suite, when the runner does not own it
    CppUnit::TestRunner runner;
    const auto excluded = excludedNames();
    if (argc > 1 || !excluded.empty()) {
        auto selection = std::make_unique<Selection>();
        collect(all, argc > 1 ? argv[1] : "", excluded, *selection);
        runner.addTest(selection.release());
        keep.reset(all);
    } else {
        runner.addTest(all);
    }
    CppUnit::TestResult controller;
    CppUnit::TestResultCollector result;
    controller.addListener(&result);
    CppUnit::BriefTestProgressListener progress;
    controller.addListener(&progress);
    runner.run(controller);
    CppUnit::CompilerOutputter(&result, std::cerr).write();
    int failed = result.testFailuresTotal();
    int run = result.runTests();
    std::cout << (run - failed) << " passed, " << failed << " failed" << std::endl;
    if (run == 0) {
        std::cerr << "no test ran" << std::endl;
        return 1;
    }
    return failed == 0 ? 0 : 1;
}
