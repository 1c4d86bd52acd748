// The main() of every CppUnit test program: runs every registered suite, or only the tests
// whose names contain argv[1], and exits non-zero when any fails. With TE_PG_FIXTURE_CHILD set
// it only starts a PostgreSQL fixture and waits (see PostgresFixtureTest).
#include <cppunit/BriefTestProgressListener.h>
#include <cppunit/CompilerOutputter.h>
#include <cppunit/TestResult.h>
#include <cppunit/TestResultCollector.h>
#include <cppunit/TestRunner.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/support/PostgresFixture.h"

namespace {

void collect(CppUnit::Test* test, const std::string& filter, CppUnit::TestRunner& runner) {
    if (test->getChildTestCount() == 0) {
        if (test->getName().find(filter) != std::string::npos) runner.addTest(test);
        return;
    }
    for (int i = 0; i < test->getChildTestCount(); ++i)
        collect(test->getChildTestAt(i), filter, runner);
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
    CppUnit::TestRunner runner;
    if (argc > 1) {
        collect(all, argv[1], runner);
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
