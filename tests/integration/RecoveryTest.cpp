// Nothing accepted is lost: kill -9 of the server, and a restart of the database.
#include <Poco/File.h>
#include <Poco/Process.h>
#include <cppunit/extensions/HelperMacros.h>

#include <functional>
#include <thread>

#include "tests/integration/Cluster.h"
#include "tests/support/PostgresFixture.h"

using namespace te;
using namespace te::test;
using namespace std::chrono_literals;

namespace {

bool taskRunning(Cluster& c, std::int64_t id) {
    auto t = c.tasks(id);
    return t->size() >= 1 && str(t->getObject(0), "state") == "running";
}

}  // namespace

class RecoveryTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RecoveryTest);
    CPPUNIT_TEST(testServerKilledMidTaskWorkerReconnectsAndJobFinishes);
    CPPUNIT_TEST(testAcceptedJobsSurviveServerKill);
    CPPUNIT_TEST(testJobsFinishAcrossDatabaseRestart);
    CPPUNIT_TEST(testJobsFinishAcrossDatabaseCrash);
    CPPUNIT_TEST(testEncodingExampleLeavesPlayableRenditions);
    CPPUNIT_TEST_SUITE_END();

public:
    void testServerKilledMidTaskWorkerReconnectsAndJobFinishes() {
        Cluster::Options o;
        o.leaseMs = 20000;  // the worker, not the lease, must bring the task back
        Cluster c(o);
        c.startServerProcess();
        c.startWorker("survivor", "work", 1);
        std::string gate = c.dir().file("gate");
        std::int64_t id = c.submit("hold-then-noop", "{\"gate\": \"" + gate + "\"}");
        CPPUNIT_ASSERT(waitUntil([&] { return taskRunning(c, id); }, 20s));
        c.killServerProcess();
        writeFile(gate, "open");  // the task ends while no server listens
        std::this_thread::sleep_for(500ms);
        c.startServerProcess();
        auto job = c.waitFinished(id, 40s);
        CPPUNIT_ASSERT_EQUAL(std::string("completed"), str(job, "queue_state"));
        CPPUNIT_ASSERT_MESSAGE(c.logText(id), !job->getValue<bool>("failed"));
        auto tasks = c.tasks(id);
        CPPUNIT_ASSERT_EQUAL(size_t(2), tasks->size());
        CPPUNIT_ASSERT_EQUAL(std::string("survivor"), str(tasks->getObject(0), "worker"));
        CPPUNIT_ASSERT_EQUAL(std::string("completed"), str(tasks->getObject(0), "state"));
    }

    void testAcceptedJobsSurviveServerKill() {
        Cluster c;
        c.startServerProcess();
        c.startWorker("w", "work", 4);
        std::vector<std::int64_t> ids;
        for (int i = 0; i < 20; ++i) ids.push_back(c.submit("sleep", "{\"seconds\": \"0.2\"}"));
        c.killServerProcess();
        c.startServerProcess();
        for (auto id : ids) {
            auto job = c.waitFinished(id, 60s);
            CPPUNIT_ASSERT_EQUAL(std::string("completed"), str(job, "queue_state"));
            CPPUNIT_ASSERT_MESSAGE(c.logText(id), !job->getValue<bool>("failed"));
        }
    }

    void testJobsFinishAcrossDatabaseRestart() {
        jobsFinishAcross(PostgresFixture::instance().freshDatabase(), 8,
                         [] { PostgresFixture::instance().restart(); });
    }

    // A crash of PostgreSQL while tasks run. The claims, committed without waiting for the
    // disk, may be gone (the submissions' commits before them waited): their tasks are queued
    // again and run again. Every job finishes, each task's result recorded once.
    void testJobsFinishAcrossDatabaseCrash() {
        jobsFinishAcross(PostgresFixture::instance().freshDatabase(true), 4, [] {
            std::this_thread::sleep_for(50ms);  // claimed and running, the claims maybe not on disk
            PostgresFixture::instance().crashAndRestart();
        });
    }

    void testEncodingExampleLeavesPlayableRenditions() {
        // The shipped example of config/workflows/, as scripts/start runs it.
        Cluster::Options o;
        o.workflows = sourcePath("config/workflows");
        Cluster c(o);
        c.startServer();
        c.startWorker("enc-1", "work", 2);
        c.startWorker("enc-2", "work", 2);
        std::string clip = c.dir().file("clip.mp4");
        auto maker =
            Poco::Process::launch(sourcePath("config/workflows/bin/make-test-clip"), {clip, "4"});
        CPPUNIT_ASSERT_EQUAL(0, maker.wait());
        std::string out = c.dir().file("encoded");
        std::int64_t id = c.submit("encoding", "{\"source\": \"" + clip + "\", \"output_dir\": \"" +
                                                   out + "\", \"content_id\": \"clip-1\"}");
        auto job = c.waitFinished(id, 180s);
        CPPUNIT_ASSERT_MESSAGE(c.logText(id), !job->getValue<bool>("failed"));
        std::string master = readFile(out + "/master.m3u8");
        CPPUNIT_ASSERT(master.find("#EXTM3U") != std::string::npos);
        CPPUNIT_ASSERT(master.find("#EXT-X-STREAM-INF") != std::string::npos);
        CPPUNIT_ASSERT(Poco::File(out + "/dash/manifest.mpd").exists());
        // Every rendition the master lists is a playlist that ffprobe can read.
        int renditions = 0;
        std::istringstream lines(master);
        for (std::string line; std::getline(lines, line);) {
            if (line.empty() || line[0] == '#') continue;
            ++renditions;
            auto probe =
                Poco::Process::launch("ffprobe", {"-v", "error", "-of", "csv=p=0", "-show_entries",
                                                  "stream=codec_name", out + "/" + line});
            CPPUNIT_ASSERT_EQUAL_MESSAGE(line, 0, probe.wait());
        }
        CPPUNIT_ASSERT(renditions >= 2);
    }

private:
    // `before` jobs of 0.5 s on a worker of 4 slots, then `disrupt` (the database goes away
    // and comes back), then four more: every one finishes, none failed.
    static void jobsFinishAcross(const std::string& database, int before,
                                 const std::function<void()>& disrupt) {
        Cluster::Options o;
        o.database = database;
        o.leaseMs = 3000;
        Cluster c(o);
        c.startServer();
        c.startWorker("w", "work", 4);
        CPPUNIT_ASSERT(waitUntil([&] { return c.workerConnected("w"); }, 20s));
        std::vector<std::int64_t> ids;
        for (int i = 0; i < before; ++i) {
            ids.push_back(c.submit("sleep", "{\"seconds\": \"0.5\"}"));
        }
        disrupt();
        for (int i = 0; i < 4; ++i) ids.push_back(c.submit("sleep", "{\"seconds\": \"0.2\"}"));
        for (auto id : ids) {
            auto job = c.waitFinished(id, 60s);
            CPPUNIT_ASSERT_EQUAL(std::string("completed"), str(job, "queue_state"));
            CPPUNIT_ASSERT_MESSAGE(c.logText(id), !job->getValue<bool>("failed"));
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RecoveryTest);
