// Conformance: transactions, hostile input, persistence, migrations, connection faults.
#include <Poco/File.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <thread>

#include "server/store/Migrations.h"
#include "server/store/OwnerLock.h"
#include "server/store/SociTx.h"
#include "server/store/SqlQuery.h"
#include "shared/Errors.h"
#include "tests/server/store/StoreTestSupport.h"
#include "tests/support/TcpRelay.h"

namespace te::test {
namespace {

// Waits until a transaction on another thread (`thread`) reaches its hold (`inside`). If the
// transaction threw on its way, its error fails the test instead of a wait for ever.
void awaitInside(std::promise<void>& inside, std::future<void>& thread) {
    auto entered = inside.get_future();
    while (entered.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready) {
        if (thread.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
            thread.get();
            CPPUNIT_FAIL("the transaction ended before its hold");
        }
    }
}

std::int64_t countJobs(Store& store) {
    std::int64_t n = 0;
    store.transact([&](Tx& tx) {
        for (const auto& [state, count] : tx.countJobsByState()) n += count;
    });
    return n;
}

const std::vector<std::string> kHostile = {
    "it's \"quoted\"",
    "'; DROP TABLE jobs; --",
    "Robert'); DELETE FROM tasks WHERE ('1'='1",
    "Grüße aus Köln, 東京, 🎬 émoji",
    "back\\slash \\' \\\" %s %n $1 :id ? ?1 @p",
    "line\nbreak\ttab\r",
};

}  // namespace

class StoreLifecycleTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StoreLifecycleTest);
    CPPUNIT_TEST(testRollbackWhenFnThrows);
    CPPUNIT_TEST(testHostileStringsStoredLiterally);
    CPPUNIT_TEST(testDataSurvivesReopenAndMigrationsAreIdempotent);
    CPPUNIT_TEST(testOldSchemaIsUpgradedWithItsRows);
    CPPUNIT_TEST(testUpgradeOutlivesAnIndexDroppedByHand);
    CPPUNIT_TEST(testIdsStayUniqueAcrossBlocksAndServers);
    CPPUNIT_TEST(testOpenErrors);
    CPPUNIT_TEST(testExclusiveOpenRefusesASecondOneUntilTheFirstCloses);
    CPPUNIT_TEST(testBackendAndPing);
    CPPUNIT_TEST(testTwoSqliteStoresShareOneFile);
    CPPUNIT_TEST(testSqliteLogIsCheckpointedBesideTheWriter);
    CPPUNIT_TEST(testSqliteLogStartsOverUnderSteadyWrites);
    CPPUNIT_TEST(testSqlitePlannerStatisticsAreTaken);
    CPPUNIT_TEST(testReadsRunBesideAnOpenWrite);
    CPPUNIT_TEST(testSqliteReadRefusesWrites);
    CPPUNIT_TEST(testPostgresTransactionsRunConcurrently);
    CPPUNIT_TEST(testPostgresRestartReconnects);
    CPPUNIT_TEST(testPostgresOwnershipIsTakenBackAfterARestart);
    CPPUNIT_TEST(testPostgresLostCommitThatHappenedIsNotRunAgain);
    CPPUNIT_TEST(testPostgresLostCommitThatFailedRunsAgain);
    CPPUNIT_TEST_SUITE_END();

public:
    void testRollbackWhenFnThrows() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            addJob(*store, makeJob("c"));
            CPPUNIT_ASSERT_THROW(store->transact([](Tx& tx) {
                Job j = makeJob("c");
                tx.insertJob(j);
                tx.putSetting("x", "1");
                throw std::logic_error("changed my mind");
            }),
                                 std::logic_error);
            CPPUNIT_ASSERT_EQUAL(std::int64_t(1), countJobs(*store));
            store->transact([](Tx& tx) { CPPUNIT_ASSERT(tx.settings().empty()); });
            // Written before the throw (the count makes the insert go out first): on
            // PostgreSQL the INSERT carried the transaction's BEGIN, and is rolled back too.
            CPPUNIT_ASSERT_THROW(store->transact([](Tx& tx) {
                Job j = makeJob("c");
                tx.insertJob(j);
                CPPUNIT_ASSERT_EQUAL(std::int64_t(2), tx.countJobsByState()[JobState::Queued]);
                throw std::logic_error("changed my mind");
            }),
                                 std::logic_error);
            CPPUNIT_ASSERT_EQUAL(std::int64_t(1), countJobs(*store));
            // A store error mid-way rolls back the earlier statements too.
            CPPUNIT_ASSERT_THROW(store->transact([](Tx& tx) {
                Job j = makeJob("c");
                tx.insertJob(j);
                Task orphan = makeTask(j.id + 1000);
                tx.insertTask(orphan);  // foreign key: no such job
            }),
                                 StoreError);
            CPPUNIT_ASSERT_EQUAL(std::int64_t(1), countJobs(*store));
            // The store stays usable.
            addJob(*store, makeJob("c"));
            CPPUNIT_ASSERT_EQUAL(std::int64_t(2), countJobs(*store));
        });
    }

    void testHostileStringsStoredLiterally() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            for (const std::string& s : kHostile) {
                Job job = makeJob(s);
                job.workflow = s;
                job.parameters = s;
                job.contentId = s;
                job.message = s;
                addJob(*store, job);
                store->transact([&](Tx& tx) {
                    auto found = tx.findJob(job.id);
                    CPPUNIT_ASSERT(found);
                    CPPUNIT_ASSERT_EQUAL(s, found->client);
                    CPPUNIT_ASSERT_EQUAL(s, found->workflow);
                    CPPUNIT_ASSERT_EQUAL(s, found->parameters);
                    CPPUNIT_ASSERT_EQUAL(s, found->message);
                    JobFilter f;
                    f.client = s;
                    f.search = s;
                    auto listed = tx.listJobs(f);
                    CPPUNIT_ASSERT_EQUAL(size_t(1), listed.size());
                    CPPUNIT_ASSERT_EQUAL(job.id, listed[0].id);

                    Task task = makeTask(job.id, s);
                    task.command = s;
                    task.targetWorker = s;
                    tx.insertTask(task);
                    auto claimed = tx.claimTasks({s}, s, 5, nowMs(), nowMs() + 1000);
                    CPPUNIT_ASSERT_EQUAL(size_t(1), claimed.size());
                    CPPUNIT_ASSERT_EQUAL(s, claimed[0].command);

                    tx.putSetting(s, s);
                    CPPUNIT_ASSERT_EQUAL(s, tx.settings()[s]);
                    LogEntry log;
                    log.jobId = job.id;
                    log.message = s;
                    tx.appendLog(log);
                    CPPUNIT_ASSERT_EQUAL(s, tx.listLogs(job.id, 0).at(0).message);
                    CallbackEvent ev;
                    ev.jobId = job.id;
                    ev.url = s;
                    ev.body = s;
                    tx.enqueueCallback(ev);
                    CPPUNIT_ASSERT_EQUAL(s, tx.listCallbacks(job.id).at(0).url);
                    Schedule sched;
                    sched.name = s;
                    tx.ensureSchedule(sched);
                    tx.setScheduleActive(s, false);
                });
            }
            // Every table is still there and holds exactly what was written.
            CPPUNIT_ASSERT_EQUAL(std::int64_t(kHostile.size()), countJobs(*store));
            store->transact([](Tx& tx) {
                CPPUNIT_ASSERT_EQUAL(std::int64_t(kHostile.size()),
                                     tx.countStates().totals().pending);
                CPPUNIT_ASSERT_EQUAL(kHostile.size(), tx.settings().size());
                CPPUNIT_ASSERT_EQUAL(kHostile.size(), tx.schedules().size());
            });
        });
    }

    void testDataSurvivesReopenAndMigrationsAreIdempotent() {
        forEachBackend([](const std::string& url) {
            std::int64_t jobId = 0;
            int version = 0;
            {
                auto store = Store::open(url);
                version = store->schemaVersion();
                CPPUNIT_ASSERT(version >= 1);
                jobId = addJob(*store, makeJob("keep-me"));
                store->transact([&](Tx& tx) {
                    Task t = makeTask(jobId);
                    tx.insertTask(t);
                    tx.putSetting("max_jobs", "3");
                });
            }
            for (int reopen = 0; reopen < 2; ++reopen) {
                auto store = Store::open(url);
                CPPUNIT_ASSERT_EQUAL(version, store->schemaVersion());
                store->transact([&](Tx& tx) {
                    auto job = tx.findJob(jobId);
                    CPPUNIT_ASSERT(job);
                    CPPUNIT_ASSERT_EQUAL(std::string("keep-me"), job->client);
                    CPPUNIT_ASSERT_EQUAL(size_t(1), tx.listTasks(jobId).size());
                    CPPUNIT_ASSERT_EQUAL(std::string("3"), tx.settings()["max_jobs"]);
                });
                CPPUNIT_ASSERT_EQUAL(std::int64_t(1), countJobs(*store));
            }
        });
    }

    // A database that an older server made (schema version 1, before the partial indexes of
    // migrations 3, 4 and 8 and the logs' dropped key of 5) is brought up to date on open, its
    // rows kept and found through the new indexes.
    void testOldSchemaIsUpgradedWithItsRows() {
        forEachBackend([](const std::string& url) {
            std::int64_t started = 0, queued = 0, scheduled = 0;
            {
                auto db = openConnection(url);
                soci::session& old = db->session();
                store::applyMigrations(old, db->dialect(), 1);
                CPPUNIT_ASSERT_EQUAL(1, store::appliedSchemaVersion(old));
                // What a version-1 server wrote: ids from the table's own sequence.
                // soci::use binds by reference and runs the statement when the expression ends,
                // after its temporaries are gone: every bound value is a named variable.
                auto job = [&](const std::string& client, JobState state, TimeMs runAt) {
                    const int stateValue = static_cast<int>(state);
                    old << "INSERT INTO jobs (client, workflow, parameters, headers, context,"
                           " queue_state, stage, created_at, updated_at, run_at)"
                           " VALUES (:c, 'transcode', '{}', '{}', '{}', :s, 0, 1000, 1000, :r)",
                        soci::use(client), soci::use(stateValue), soci::use(runAt);
                    std::int64_t id = 0;
                    old << "SELECT id FROM jobs WHERE client = :c", soci::use(client),
                        soci::into(id);
                    return id;
                };
                started = job("started", JobState::Started, 0);
                queued = job("queued", JobState::Queued, 0);
                scheduled = job("scheduled", JobState::Scheduled, 5000);
                for (TaskState state :
                     {TaskState::Queued, TaskState::Running, TaskState::Completed}) {
                    const int stateValue = static_cast<int>(state);
                    const std::string worker = state == TaskState::Queued ? "" : "w1";
                    const TimeMs leaseUntil = state == TaskState::Running ? 2000 : 0;
                    old << "INSERT INTO tasks (job_id, name, state, queue, worker, lease_until,"
                           " command, args, env, inputs, created_at)"
                           " VALUES (:j, 'encode', :s, 'work', :w, :l, '/bin/true', '[]', '{}',"
                           " '{}', 1000)",
                        soci::use(started), soci::use(stateValue), soci::use(worker),
                        soci::use(leaseUntil);
                }
                old << "INSERT INTO logs (job_id, progname, message, created_at)"
                       " VALUES (:j, 'api', 'old entry', 1000)",
                    soci::use(started);
                old << "UPDATE jobs SET content_id = 'old-cid', persist = 1 WHERE id = :j",
                    soci::use(queued);
            }
            auto store = Store::open(url);
            CPPUNIT_ASSERT_EQUAL(store::latestSchemaVersion(), store->schemaVersion());
            store->transact([&](Tx& tx) {
                auto job = tx.findJob(started);
                CPPUNIT_ASSERT(job);
                CPPUNIT_ASSERT_EQUAL(std::string("started"), job->client);
                CPPUNIT_ASSERT_EQUAL(size_t(3), tx.listTasks(started).size());
                CPPUNIT_ASSERT(Ids({queued}) == idsOf(tx.queuedJobs(10)));
                CPPUNIT_ASSERT(Ids({scheduled}) ==
                               idsOf(tx.jobsDue(JobState::Scheduled, 6000, 10)));
                auto claimed = tx.claimTasks({"work"}, "w2", 5, 3000, 9000);
                CPPUNIT_ASSERT_EQUAL(size_t(1), claimed.size());
                CPPUNIT_ASSERT_EQUAL(std::string("w2"), claimed[0].worker);
                // The running task's lease (2000) has run out by 3000.
                auto expired = tx.expiredLeases(3000, 10);
                CPPUNIT_ASSERT_EQUAL(size_t(1), expired.size());
                CPPUNIT_ASSERT_EQUAL(std::string("w1"), expired[0].worker);
                // In the partial indexes migration 8 built from the rows.
                JobFilter f;
                f.search = "old-cid";
                CPPUNIT_ASSERT(Ids({queued}) == idsOf(tx.listJobs(f)));
                f = {};
                f.persist = true;
                CPPUNIT_ASSERT(Ids({queued}) == idsOf(tx.listJobs(f)));
            });
            // New rows take ids after the old ones, log rows too (migration 5 took their
            // primary key away on PostgreSQL, not their numbering).
            std::int64_t fresh = addJob(*store, makeJob("new"));
            CPPUNIT_ASSERT(fresh > std::max({started, queued, scheduled}));
            CPPUNIT_ASSERT_EQUAL(std::int64_t(4), countJobs(*store));
            store->transact([&](Tx& tx) {
                for (const char* message : {"new entry", "newer entry"}) {
                    LogEntry entry;
                    entry.jobId = started;
                    entry.progname = "controller";
                    entry.message = message;
                    entry.createdAt = 4000;
                    tx.appendLog(entry);
                }
            });
            store->read([&](Tx& tx) {
                auto logs = tx.listLogs(started, 10);
                CPPUNIT_ASSERT_EQUAL(size_t(3), logs.size());
                CPPUNIT_ASSERT_EQUAL(std::string("old entry"), logs[0].message);
                CPPUNIT_ASSERT_EQUAL(std::string("newer entry"), logs[2].message);
                CPPUNIT_ASSERT(logs[0].id < logs[1].id && logs[1].id < logs[2].id);
            });
        });
    }

    // A DBA may drop an index that a later migration drops or rebuilds (migration 8: the
    // job indexes of content id, persist, workflow and priority): the upgrade still runs.
    void testUpgradeOutlivesAnIndexDroppedByHand() {
        forEachBackend([](const std::string& url) {
            {
                auto db = openConnection(url);
                store::applyMigrations(db->session(), db->dialect(), 7);
                for (const char* index : {"jobs_content", "jobs_persist", "jobs_priority"}) {
                    store::SqlQuery(db->session()).run(std::string("DROP INDEX ") + index);
                }
            }
            auto store = Store::open(url);
            CPPUNIT_ASSERT_EQUAL(store::latestSchemaVersion(), store->schemaVersion());
            Job job = makeJob("c");
            job.contentId = "cid";
            const std::int64_t id = addJob(*store, job);
            JobFilter f;
            f.search = "cid";
            store->read([&](Tx& tx) { CPPUNIT_ASSERT(Ids({id}) == idsOf(tx.listJobs(f))); });
        });
    }

    // PostgreSQL hands ids out in blocks (IdBlocks, one nextval each since migration 6): past
    // the end of a block, and with two stores taking blocks in turn, ids stay unique and a
    // store's own ids grow.
    void testIdsStayUniqueAcrossBlocksAndServers() {
        forEachBackend([](const std::string& url) {
            auto first = Store::open(url);
            auto second = Store::open(url);
            std::set<std::int64_t> all;
            std::int64_t lastFirst = 0;
            for (int i = 0; i < 300; ++i) {
                const std::int64_t id = addJob(*first, makeJob("a"));
                CPPUNIT_ASSERT(id > lastFirst);
                lastFirst = id;
                CPPUNIT_ASSERT(all.insert(id).second);
                if (i % 100 == 0) CPPUNIT_ASSERT(all.insert(addJob(*second, makeJob("b"))).second);
                std::int64_t task = 0;
                first->transact([&](Tx& tx) {
                    Task t = makeTask(id);
                    task = tx.insertTask(t);
                });
                CPPUNIT_ASSERT(task > 0);
            }
            CPPUNIT_ASSERT_EQUAL(std::int64_t(303), countJobs(*first));
            if (url.rfind("postgresql", 0) == 0) {
                long long step = 0;
                store::SqlQuery(openConnection(url)->session())
                    .into(step)
                    .run(
                        "SELECT seqincrement FROM pg_sequence"
                        " WHERE seqrelid = pg_get_serial_sequence('tasks', 'id')::regclass");
                CPPUNIT_ASSERT_EQUAL(static_cast<long long>(store::IdBlocks::kBlock), step);
            }
        });
    }

    // The server's open: a second server on the same database stops with a line naming the
    // first, a plain open (tools, tests) still works, and closing lets the next one in.
    void testExclusiveOpenRefusesASecondOneUntilTheFirstCloses() {
        forEachBackend([](const std::string& url) {
            const std::chrono::milliseconds wait(300);
            auto first = Store::open(url, wait);
            const auto before = std::chrono::steady_clock::now();
            try {
                Store::open(url, wait);
                CPPUNIT_FAIL("a second exclusive open of " + url + " succeeded");
            } catch (const StoreError& e) {
                const std::string what = e.what();
                CPPUNIT_ASSERT_MESSAGE(
                    what, what.find("is in use by another taskengine-server") != std::string::npos);
                // Who holds it: the process (SQLite) or the connection (PostgreSQL).
                const bool sqlite = url.rfind("sqlite3://", 0) == 0;
                CPPUNIT_ASSERT_MESSAGE(
                    what,
                    what.find(sqlite ? "(pid " : "(connected from 127.0.0.1") != std::string::npos);
                CPPUNIT_ASSERT_MESSAGE(what, what.find('\n') == std::string::npos);
            }
            // It waited for the first to go away before giving up.
            CPPUNIT_ASSERT(std::chrono::steady_clock::now() - before >= wait);
            auto plain = Store::open(url);
            CPPUNIT_ASSERT(plain->ping());
            first.reset();
            // PostgreSQL lets go when the closed session's server process has ended, a moment
            // after the close returned: what the server's wait at start is for.
            auto next = Store::open(url, std::chrono::seconds(5));
            CPPUNIT_ASSERT(next->ping());
        });
    }

    void testOpenErrors() {
        auto oneLineStoreError = [](const std::string& url) {
            try {
                Store::open(url);
            } catch (const StoreError& e) {
                const std::string what = e.what();
                CPPUNIT_ASSERT_MESSAGE(what, !what.empty());
                CPPUNIT_ASSERT_MESSAGE(what, what.find('\n') == std::string::npos);
                return what;
            }
            CPPUNIT_FAIL("no StoreError for " + url);
            return std::string();
        };
        oneLineStoreError("mysql://db=x");
        oneLineStoreError("");
        oneLineStoreError("sqlite3://");
        const int closedPort = freePort();
        const std::string pgDown =
            oneLineStoreError("postgresql://host=127.0.0.1 port=" + std::to_string(closedPort) +
                              " dbname=x user=x password=secret connect_timeout=2");
        CPPUNIT_ASSERT_MESSAGE(pgDown, pgDown.find("secret") == std::string::npos);

        TempDir dir;
        writeFile(dir.file("plain-file"), "x");
        oneLineStoreError("sqlite3://db=" + dir.file("plain-file") + "/sub/store.db");
        // The folder of a new SQLite file is created.
        auto store = Store::open("sqlite3://db=" + dir.file("a/b/c/store.db"));
        CPPUNIT_ASSERT(Poco::File(dir.file("a/b/c/store.db")).exists());
    }

    void testBackendAndPing() {
        TempDir dir;
        auto urls = backendUrls(dir.path());
        auto sqlite = Store::open(urls[0]);
        auto pg = Store::open(urls[1]);
        CPPUNIT_ASSERT_EQUAL(std::string("sqlite3"), sqlite->backend());
        CPPUNIT_ASSERT_EQUAL(std::string("postgresql"), pg->backend());
        CPPUNIT_ASSERT(sqlite->ping());
        CPPUNIT_ASSERT(pg->ping());
    }

    // Two servers (here: two Store objects) on one SQLite file write at the same time: the
    // busy timeout and BEGIN IMMEDIATE make them wait for each other instead of failing.
    void testTwoSqliteStoresShareOneFile() {
        TempDir dir;
        const std::string url = "sqlite3://db=" + dir.file("shared.db");
        auto first = Store::open(url);
        auto second = Store::open(url);
        std::atomic<int> errors{0};
        auto writer = [&](Store& store) {
            try {
                for (int i = 0; i < 100; ++i) addJob(store, makeJob("c"));
            } catch (const std::exception&) {
                ++errors;
            }
        };
        std::thread a(writer, std::ref(*first));
        std::thread b(writer, std::ref(*second));
        a.join();
        b.join();
        CPPUNIT_ASSERT_EQUAL(0, errors.load());
        CPPUNIT_ASSERT_EQUAL(std::int64_t(200), countJobs(*first));
    }

    // Commits land in the write-ahead log; the store's checkpointer copies them into the
    // database file within a moment, without the writer's help (the writer itself only
    // checkpoints past ~64 MB of log, far more than written here).
    void testSqliteLogIsCheckpointedBesideTheWriter() {
        TempDir dir;
        const std::string path = dir.file("checkpoint.db");
        auto store = Store::open("sqlite3://db=" + path);
        const auto before = Poco::File(path).getSize();
        store->transact([](Tx& tx) {
            for (int i = 0; i < 500; ++i) {
                Job job = makeJob("c");
                job.parameters = "{\"pad\":\"" + std::string(4000, 'x') + "\"}";
                tx.insertJob(job);
            }
        });
        auto grown = [&] { return Poco::File(path).getSize() > before + 1000000; };
        for (int i = 0; i < 100 && !grown(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        CPPUNIT_ASSERT_MESSAGE("the database file did not take the 2 MB written to the log",
                               grown());
        CPPUNIT_ASSERT_EQUAL(std::int64_t(500), countJobs(*store));
    }

    // The log is written from its beginning again only after a checkpoint that caught up
    // with the writer. Under writes that never pause the checkpointer never does by itself;
    // the store then checkpoints between two of the writer's transactions, so the log stays
    // near ~8 MB instead of growing to the writer's own limit (~64 MB) before each restart.
    void testSqliteLogStartsOverUnderSteadyWrites() {
        TempDir dir;
        const std::string path = dir.file("restart.db");
        auto store = Store::open("sqlite3://db=" + path);
        // ~40 MB/s of log in small transactions, about what the server writes under load:
        // faster, and the writer's own limit comes before the checkpointer's first round.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        std::int64_t written = 0;  // bytes of padding, ~ the log's growth without restarts
        while (written < 100'000'000 && std::chrono::steady_clock::now() < deadline) {
            store->transact([](Tx& tx) {
                for (int i = 0; i < 5; ++i) {
                    Job job = makeJob("c");
                    job.parameters = "{\"pad\":\"" + std::string(20000, 'x') + "\"}";
                    tx.insertJob(job);
                }
            });
            written += 5 * 20000;
            std::this_thread::sleep_for(std::chrono::milliseconds(3));
        }
        CPPUNIT_ASSERT_MESSAGE("too little written to test anything", written > 60'000'000);
        const auto log = Poco::File(path + "-wal").getSize();
        CPPUNIT_ASSERT_MESSAGE("the log grew to " + std::to_string(log) + " bytes",
                               log < 40'000'000);
    }

    // Without statistics SQLite's planner sorted every job of a client for GET /jobs ordered
    // by another column; the store takes them (ANALYZE) once the jobs table has grown.
    void testSqlitePlannerStatisticsAreTaken() {
        TempDir dir;
        const std::string path = dir.file("analyze.db");
        auto store = Store::open("sqlite3://db=" + path);
        store->transact([](Tx& tx) {
            for (int i = 0; i < 1500; ++i) {
                Job job = makeJob("c");
                tx.insertJob(job);
            }
        });
        soci::session probe(*soci::factory_sqlite3(), "db=" + path);
        auto analyzed = [&] {
            long long rows = 0;
            store::SqlQuery(probe).into(rows).run(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'");
            if (rows == 0) return false;
            store::SqlQuery(probe).into(rows).run(
                "SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'jobs'");
            return rows > 0;
        };
        CPPUNIT_ASSERT_MESSAGE("no statistics for jobs after 10 s",
                               waitUntil(analyzed, std::chrono::seconds(10)));
    }

    // A read is one snapshot of what is committed, and it does not wait for a write
    // transaction that is open meanwhile (SQLite: its reader connections beside the writer).
    void testReadsRunBesideAnOpenWrite() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const auto first = addJob(*store, makeJob("a"));
            std::promise<void> inside;
            std::promise<void> release;
            auto writer = std::async(std::launch::async, [&] {
                store->transact([&](Tx& tx) {
                    Job job = makeJob("b");
                    tx.insertJob(job);
                    inside.set_value();
                    release.get_future().wait();
                });
            });
            awaitInside(inside, writer);
            auto reader = std::async(std::launch::async, [&] {
                std::vector<Job> seen;
                store->read([&](Tx& tx) { seen = tx.listJobs(JobFilter{}); });
                return seen;
            });
            const bool waited =
                reader.wait_for(std::chrono::seconds(5)) != std::future_status::ready;
            release.set_value();
            writer.get();
            CPPUNIT_ASSERT_MESSAGE("the read waited for the open write", !waited);
            auto seen = reader.get();
            CPPUNIT_ASSERT_EQUAL(size_t(1), seen.size());
            CPPUNIT_ASSERT_EQUAL(first, seen[0].id);
            store->read([&](Tx& tx) { CPPUNIT_ASSERT_EQUAL(size_t(2), tx.listJobs({}).size()); });
        });
    }

    void testSqliteReadRefusesWrites() {
        TempDir dir;
        auto store = Store::open("sqlite3://db=" + dir.file("readonly.db"));
        CPPUNIT_ASSERT_THROW(store->read([](Tx& tx) { tx.putSetting("x", "1"); }), StoreError);
        store->read([](Tx& tx) { CPPUNIT_ASSERT(tx.settings().empty()); });
    }

    // While one transaction is open (and holds a row lock), another thread's transaction on a
    // different row commits: the PostgreSQL store runs transactions side by side.
    void testPostgresTransactionsRunConcurrently() {
        auto store = Store::open(PostgresFixture::instance().freshDatabase());
        const auto a = addJob(*store, makeJob("a"));
        const auto b = addJob(*store, makeJob("b"));
        std::promise<void> inside;
        std::promise<void> release;
        auto holder = std::async(std::launch::async, [&] {
            store->transact([&](Tx& tx) {
                Job j = *tx.findJob(a);
                tx.updateJob(j);
                inside.set_value();
                release.get_future().wait();
            });
        });
        awaitInside(inside, holder);
        auto other = std::async(std::launch::async, [&] {
            store->transact([&](Tx& tx) {
                Job j = *tx.findJob(b);
                j.message = "done";
                tx.updateJob(j);
            });
        });
        const bool finished = other.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
        release.set_value();
        holder.get();
        CPPUNIT_ASSERT_MESSAGE("second transaction waited for the first", finished);
        other.get();
    }

    // A restart of PostgreSQL ends the owner's session and its lock with it; the owner takes it
    // back, so a second server is still refused afterwards.
    void testPostgresOwnershipIsTakenBackAfterARestart() {
        auto& pg = PostgresFixture::instance();
        const std::string url = pg.freshDatabase();
        auto owner = Store::open(url, std::chrono::milliseconds(0));
        auto held = [&] {
            auto db = openConnection(url);
            long long granted = 0;
            db->session() << "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'"
                             " AND classid = 0 AND objid = :key AND granted",
                soci::use(store::OwnerLock::kAdvisoryKey), soci::into(granted);
            return granted == 1;
        };
        CPPUNIT_ASSERT(held());
        pg.restart();
        CPPUNIT_ASSERT(!held());
        CPPUNIT_ASSERT(waitUntil(held, store::OwnerLock::kCheckInterval * 3));
        try {
            Store::open(url, std::chrono::milliseconds(0));
            CPPUNIT_FAIL("a second exclusive open succeeded after the restart");
        } catch (const StoreError& e) {
            const std::string what = e.what();
            CPPUNIT_ASSERT_MESSAGE(
                what, what.find("is in use by another taskengine-server") != std::string::npos);
        }
    }

    void testPostgresRestartReconnects() {
        auto& pg = PostgresFixture::instance();
        auto store = Store::open(pg.freshDatabase());
        // Warm several pooled sessions so all of them see the restart.
        std::vector<std::thread> threads;
        for (int i = 0; i < 4; ++i) {
            threads.emplace_back([&] { addJob(*store, makeJob("before")); });
        }
        for (auto& t : threads) t.join();

        pg.restart();
        const auto after = addJob(*store, makeJob("after"));  // reconnects, runs fn again
        CPPUNIT_ASSERT(after > 0);
        CPPUNIT_ASSERT_EQUAL(std::int64_t(5), countJobs(*store));
        CPPUNIT_ASSERT(store->ping());

        // Down for longer than the retries: a StoreError, and ping says false.
        pg.stop();
        std::atomic<int> runs{0};
        try {
            store->transact([&](Tx& tx) {
                ++runs;
                tx.countFailedJobs();
            });
            pg.start();
            CPPUNIT_FAIL("transact succeeded with the database down");
        } catch (const StoreError&) {
        }
        CPPUNIT_ASSERT(!store->ping());
        pg.start();
        CPPUNIT_ASSERT(store->ping());
        CPPUNIT_ASSERT_EQUAL(std::int64_t(5), countJobs(*store));
    }

    // The connection breaks after PostgreSQL committed and before its answer arrives, on the
    // client's side only (the server's process lives on). Running the submission again would
    // make its job twice.
    void testPostgresLostCommitThatHappenedIsNotRunAgain() {
        TcpRelay relay(PostgresFixture::instance().port());
        auto store = Store::open(throughRelay(relay));
        store->stateCounts();  // kept from here on, as a server keeps them
        CPPUNIT_ASSERT_EQUAL(1, runsOfOneJobCut(relay, *store, TcpRelay::Cut::AfterCommit));
        CPPUNIT_ASSERT_EQUAL(std::int64_t(1), countJobs(*store));
        // The commit's change was not known to have happened: the counts are read again.
        CPPUNIT_ASSERT_EQUAL(std::int64_t(1),
                             store->stateCounts().jobs[static_cast<int>(JobState::Queued)]);
        addJob(*store, makeJob("next"));  // the store goes on as before
        CPPUNIT_ASSERT_EQUAL(std::int64_t(2), countJobs(*store));
    }

    // The connection breaks before the COMMIT reaches PostgreSQL: nothing happened, so the
    // transaction runs again, once.
    void testPostgresLostCommitThatFailedRunsAgain() {
        TcpRelay relay(PostgresFixture::instance().port());
        auto store = Store::open(throughRelay(relay));
        CPPUNIT_ASSERT_EQUAL(2, runsOfOneJobCut(relay, *store, TcpRelay::Cut::BeforeCommit));
        CPPUNIT_ASSERT_EQUAL(std::int64_t(1), countJobs(*store));
    }

private:
    // Inserts one job, its connection broken by `relay` as `cut` says; returns how many times
    // the transaction ran.
    static int runsOfOneJobCut(TcpRelay& relay, Store& store, TcpRelay::Cut cut) {
        relay.arm(cut);
        int runs = 0;
        store.transact([&](Tx& tx) {
            ++runs;
            Job job = makeJob("once");
            tx.insertJob(job);
        });
        CPPUNIT_ASSERT_EQUAL(1, relay.cuts());
        return runs;
    }

    // A fresh database's URL, reached through `relay`.
    static std::string throughRelay(const TcpRelay& relay) {
        auto& pg = PostgresFixture::instance();
        std::string url = pg.freshDatabase();
        const std::string port = "port=" + std::to_string(pg.port());
        const auto at = url.find(port);
        CPPUNIT_ASSERT(at != std::string::npos);
        return url.replace(at, port.size(), "port=" + std::to_string(relay.port()));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StoreLifecycleTest);

}  // namespace te::test
