// Tests of shared/workflow/Placeholders.cpp: the one syntax the loader checks and the worker
// fills, and that a filled value stays one literal argv element.
#include <Poco/File.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>
#include <cppunit/extensions/HelperMacros.h>

#include "shared/Errors.h"
#include "shared/workflow/Workflow.h"
#include "tests/support/TestUtil.h"

namespace {

using Values = std::map<std::string, std::string>;

class PlaceholdersTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PlaceholdersTest);
    CPPUNIT_TEST(testFillsNames);
    CPPUNIT_TEST(testDoubledBracesAreLiteral);
    CPPUNIT_TEST(testOtherBracesStayLiteral);
    CPPUNIT_TEST(testMissingValueNamesIt);
    CPPUNIT_TEST(testValuesAreNotScannedAgain);
    CPPUNIT_TEST(testPlaceholdersOf);
    CPPUNIT_TEST(testPlaceholdersOfTask);
    CPPUNIT_TEST(testHostileValuesStayOneArgument);
    CPPUNIT_TEST_SUITE_END();

public:
    void testFillsNames() {
        Values v{{"a", "1"}, {"b.c", "2"}, {"D_e-f", "3"}};
        CPPUNIT_ASSERT_EQUAL(std::string("x=1,2/3"),
                             te::fillPlaceholders("x={a},{b.c}/{D_e-f}", v));
        CPPUNIT_ASSERT_EQUAL(std::string("11"), te::fillPlaceholders("{a}{a}", v));
        CPPUNIT_ASSERT_EQUAL(std::string("plain"), te::fillPlaceholders("plain", v));
        CPPUNIT_ASSERT_EQUAL(std::string(""), te::fillPlaceholders("", v));
        CPPUNIT_ASSERT_EQUAL(std::string(""), te::fillPlaceholders("{empty}", {{"empty", ""}}));
    }

    void testDoubledBracesAreLiteral() {
        Values v{{"a", "1"}};
        CPPUNIT_ASSERT_EQUAL(std::string("{a}"), te::fillPlaceholders("{{a}}", v));
        CPPUNIT_ASSERT_EQUAL(std::string("{1}"), te::fillPlaceholders("{{{a}}}", v));
        CPPUNIT_ASSERT_EQUAL(std::string("{\"k\": 1}"), te::fillPlaceholders("{{\"k\": {a}}}", v));
        CPPUNIT_ASSERT(te::placeholdersOf("{{a}}").empty());
    }

    void testOtherBracesStayLiteral() {
        Values none;
        for (const char* text : {"{ not a name }", "{}", "{a b}", "}", "{", "a{b", "{x y}",
                                 "{\"json\": true}", "{a/b}", "{a:b}", "x{"}) {
            CPPUNIT_ASSERT_EQUAL(std::string(text), te::fillPlaceholders(text, none));
        }
        // A shell-style ${HOME} holds a placeholder {HOME}: the $ stays, the name is filled.
        CPPUNIT_ASSERT_EQUAL(std::string("$/home/u"),
                             te::fillPlaceholders("${HOME}", {{"HOME", "/home/u"}}));
    }

    void testMissingValueNamesIt() {
        try {
            te::fillPlaceholders("--url={url}", {{"other", "x"}});
            CPPUNIT_FAIL("no exception");
        } catch (const te::ValidationError& e) {
            CPPUNIT_ASSERT_EQUAL(std::string("no value for input 'url'"), std::string(e.what()));
        }
    }

    void testValuesAreNotScannedAgain() {
        Values v{{"a", "{b}"}, {"b", "secret"}};
        CPPUNIT_ASSERT_EQUAL(std::string("{b}"), te::fillPlaceholders("{a}", v));
        CPPUNIT_ASSERT_EQUAL(std::string("{{x}}"), te::fillPlaceholders("{a}", {{"a", "{{x}}"}}));
    }

    void testPlaceholdersOf() {
        std::vector<std::string> names = te::placeholdersOf("{b} {a} {b} {{c}} { d } {e.f-g_1}");
        std::vector<std::string> expected{"b", "a", "e.f-g_1"};
        CPPUNIT_ASSERT(names == expected);
    }

    void testPlaceholdersOfTask() {
        te::TaskClass t;
        t.execCommand = "{TOOL}";
        t.execArgs = {"-i", "{in}", "{out}/{name}.mp4", "{{literal}}"};
        std::set<std::string> expected{"TOOL", "in", "out", "name"};
        CPPUNIT_ASSERT(te::placeholdersOf(t) == expected);
    }

    // The worker runs a filled template as argv, never through a shell. Run one: printf gets
    // the hostile value as exactly one argument, and the `touch` inside it never runs.
    void testHostileValuesStayOneArgument() {
        te::test::TempDir dir;
        std::string marker = dir.file("pwned");
        std::vector<std::string> hostile = {"a'b\"c",
                                            "; touch " + marker,
                                            "$(touch " + marker + ")",
                                            "`touch " + marker + "`",
                                            "line1\nline2",
                                            "  spaced  out  ",
                                            "*",
                                            "--flag=x y",
                                            "|| touch " + marker + " &&"};
        for (const auto& value : hostile) {
            std::string arg = te::fillPlaceholders("<{v}>", {{"v", value}});
            CPPUNIT_ASSERT_EQUAL("<" + value + ">", arg);
            Poco::Pipe out;
            Poco::ProcessHandle ph =
                Poco::Process::launch("/usr/bin/printf", {"[%s]", arg}, nullptr, &out, nullptr);
            Poco::PipeInputStream in(out);
            std::string printed;
            Poco::StreamCopier::copyToString(in, printed);
            CPPUNIT_ASSERT_EQUAL(0, ph.wait());
            // One "[...]" group: printf repeats its format once per extra argument.
            CPPUNIT_ASSERT_EQUAL("[<" + value + ">]", printed);
        }
        CPPUNIT_ASSERT(!Poco::File(marker).exists());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PlaceholdersTest);

}  // namespace
