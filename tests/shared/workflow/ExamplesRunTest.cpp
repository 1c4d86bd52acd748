// Runs the shipped example workflows (config/workflows/) end to end with ExampleRunner: real
// python3, curl and ffmpeg processes in per-task folders, so a broken helper script or ffmpeg
// invocation fails here and not first in front of a user.
#include <Poco/File.h>
#include <Poco/Process.h>
#include <cppunit/extensions/HelperMacros.h>

#include "shared/Errors.h"
#include "shared/workflow/Workflow.h"
#include "tests/shared/workflow/ExampleRunner.h"
#include "tests/support/TestUtil.h"

namespace {

using te::test::ExampleRunner;
using te::test::TempDir;

size_t count(const std::string& text, const std::string& part) {
    size_t n = 0;
    for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
}

class ExamplesRunTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ExamplesRunTest);
    CPPUNIT_TEST(testRequestData);
    CPPUNIT_TEST(testRequestDataNeedsItsHeader);
    CPPUNIT_TEST(testEncoding);
    CPPUNIT_TEST(testVodCapture);
    CPPUNIT_TEST_SUITE_END();

public:
    void setUp() override {
        _set = te::loadWorkflows(te::test::sourcePath("config/workflows"));
        _env = {{"WORKFLOW_BIN", te::test::sourcePath("config/workflows/bin")}};
    }

    void testRequestData() {
        TempDir tmp;
        ExampleRunner runner(*_set, tmp.file("work"), _env);
        std::string shared = tmp.file("shared");
        bool ok =
            runner.run("request-data", {{"data_id", "id 42; 'quoted'"}, {"output_dir", shared}},
                       {{"Authorization", "Basic dXNlcjpwYXNz"}});
        CPPUNIT_ASSERT_MESSAGE(runner.log(), ok);
        CPPUNIT_ASSERT_EQUAL(0, runner.failedTasks());
        CPPUNIT_ASSERT_EQUAL(shared + "/export", runner.context().at("export_dir"));
        for (int n = 1; n <= 3; ++n) {
            std::string name = "/part-" + std::to_string(n) + ".json";
            std::string got = te::test::readFile(shared + "/downloads" + name);
            CPPUNIT_ASSERT_EQUAL(te::test::readFile(shared + "/export" + name), got);
            // The hostile id went through as one argument, quotes and all.
            CPPUNIT_ASSERT_MESSAGE(got, got.find("\"id 42; 'quoted'\"") != std::string::npos);
        }
    }

    void testRequestDataNeedsItsHeader() {
        TempDir tmp;
        ExampleRunner runner(*_set, tmp.file("work"), _env);
        te::test::Strings parameters{{"data_id", "1"}, {"output_dir", tmp.path()}};
        try {
            runner.run("request-data", parameters, {});
            CPPUNIT_FAIL("ran without the Authorization header");
        } catch (const te::ValidationError& e) {
            CPPUNIT_ASSERT_EQUAL(std::string("missing input 'basic_auth'"), std::string(e.what()));
        }
    }

    void testEncoding() {
        TempDir tmp;
        std::string clip = makeClip(tmp, "4");
        std::string out = tmp.file("out");
        ExampleRunner runner(*_set, tmp.file("work"), _env);
        bool ok = runner.run("encoding", {{"source", clip}, {"output_dir", out}}, {});
        CPPUNIT_ASSERT_MESSAGE(runner.log(), ok);
        CPPUNIT_ASSERT_EQUAL(std::string("640"), runner.context().at("width"));
        CPPUNIT_ASSERT_EQUAL(std::string("360"), runner.context().at("height"));

        std::string master = te::test::readFile(out + "/master.m3u8");
        CPPUNIT_ASSERT_EQUAL(size_t(2), count(master, "#EXT-X-STREAM-INF:BANDWIDTH="));
        CPPUNIT_ASSERT_MESSAGE(
            master, master.find("RESOLUTION=640x360\n360p/index.m3u8") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(
            master, master.find("RESOLUTION=426x240\n240p/index.m3u8") != std::string::npos);
        for (const char* r : {"360p", "240p"}) {
            std::string playlist = te::test::readFile(out + "/" + r + "/index.m3u8");
            CPPUNIT_ASSERT(playlist.find("#EXT-X-ENDLIST") != std::string::npos);
            CPPUNIT_ASSERT(Poco::File(out + "/" + r + "/segment_000.ts").exists());
        }
        std::string mpd = te::test::readFile(out + "/dash/manifest.mpd");
        CPPUNIT_ASSERT(mpd.find("<MPD") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(size_t(2), count(mpd, "mimeType=\"video/mp4\""));
        CPPUNIT_ASSERT_EQUAL(size_t(1), count(mpd, "mimeType=\"audio/mp4\""));
        CPPUNIT_ASSERT_EQUAL(out + "/master.m3u8", runner.context().at("master_playlist"));
    }

    void testVodCapture() {
        TempDir tmp;
        std::string clip = makeClip(tmp, "3");
        ExampleRunner runner(*_set, tmp.file("work"), _env);
        bool ok = runner.run("vodcapture",
                             {{"stream_url", clip},
                              {"content_id", "asset-1"},
                              {"duration", "2"},
                              {"output_dir", tmp.file("vod/new")}},
                             {});
        CPPUNIT_ASSERT_MESSAGE(runner.log(), ok);
        CPPUNIT_ASSERT(Poco::File(tmp.file("vod/new/asset-1.ts")).getSize() > 0);
        CPPUNIT_ASSERT(Poco::File(tmp.file("vod/new/asset-1.mp4")).getSize() > 0);
    }

private:
    static std::string makeClip(const TempDir& tmp, const std::string& seconds) {
        std::string clip = tmp.file("clip.mp4");
        Poco::ProcessHandle ph = Poco::Process::launch(
            "sh", {te::test::sourcePath("config/workflows/bin/make-test-clip"), clip, seconds});
        CPPUNIT_ASSERT_EQUAL(0, ph.wait());
        return clip;
    }

    std::shared_ptr<const te::WorkflowSet> _set;
    te::test::Strings _env;
};

CPPUNIT_TEST_SUITE_REGISTRATION(ExamplesRunTest);

}  // namespace
