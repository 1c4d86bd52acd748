// Conformance: logs, settings, schedules and the callback outbox; SQLite's threading mode.
#include <sqlite3.h>

#include "server/store/SociTx.h"
#include "server/store/SqlQuery.h"
#include "shared/Errors.h"
#include "tests/server/store/StoreTestSupport.h"

namespace te::test {
namespace {

CallbackEvent makeEvent(std::int64_t jobId, const std::string& url, const std::string& body) {
    CallbackEvent e;
    e.jobId = jobId;
    e.url = url;
    e.body = body;
    e.headers = R"({"Workflow-Id":"52ec"})";
    e.client = "demo-client";
    return e;
}

std::vector<std::string> bodiesOf(const std::vector<CallbackEvent>& events) {
    std::vector<std::string> bodies;
    for (const auto& e : events) bodies.push_back(e.body);
    return bodies;
}

}  // namespace

class StoreMiscTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StoreMiscTest);
    CPPUNIT_TEST(testLogs);
    CPPUNIT_TEST(testManyLogRowsKeepTheirOrder);
    CPPUNIT_TEST(testLogEntriesOfATransactionShareARow);
    CPPUNIT_TEST(testSettings);
    CPPUNIT_TEST(testSchedules);
    CPPUNIT_TEST(testOutboxOrderPerJobAndUrl);
    CPPUNIT_TEST(testOutboxCountsAndUpdate);
    CPPUNIT_TEST(testSqliteConnectionsTakeNoMutex);
    CPPUNIT_TEST_SUITE_END();

public:
    // The store sets SQLite's multi-thread mode at the program's start, before SQLite starts:
    // each connection of a pool serves one thread at a time, so the mutex of the default
    // serialized mode guards nothing. sqlite3_db_mutex is null for a connection without one.
    void testSqliteConnectionsTakeNoMutex() {
        TempDir dir;
        auto store = Store::open("sqlite3://db=" + dir.file("mode.db"));
        sqlite3* db = nullptr;
        const int opened = sqlite3_open_v2(dir.file("other.db").c_str(), &db,
                                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
        const bool withoutMutex = sqlite3_db_mutex(db) == nullptr;
        sqlite3_close(db);
        CPPUNIT_ASSERT_EQUAL(SQLITE_OK, opened);
        CPPUNIT_ASSERT(withoutMutex);
    }

    void testLogs() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const auto jobId = addJob(*store, makeJob("c"));
            store->transact([&](Tx& tx) {
                for (int i = 0; i < 5; ++i) {
                    LogEntry e;
                    e.jobId = jobId;
                    e.taskId = i;
                    e.severity = i == 4 ? Severity::Error : Severity::Info;
                    e.progname = "worker";
                    e.message = "line " + std::to_string(i);
                    const TimeMs before = nowMs();
                    tx.appendLog(e);
                    CPPUNIT_ASSERT(e.createdAt >= before);
                }
                LogEntry other;
                other.jobId = jobId + 1;
                other.message = "other job";
                other.createdAt = 42;
                tx.appendLog(other);
            });
            store->transact([&](Tx& tx) {
                auto all = tx.listLogs(jobId, 0);
                CPPUNIT_ASSERT_EQUAL(size_t(5), all.size());
                for (size_t i = 0; i < all.size(); ++i) {
                    CPPUNIT_ASSERT_EQUAL("line " + std::to_string(i), all[i].message);
                    CPPUNIT_ASSERT_EQUAL(std::int64_t(i), all[i].taskId);
                    CPPUNIT_ASSERT_EQUAL(std::string("worker"), all[i].progname);
                    CPPUNIT_ASSERT_EQUAL(jobId, all[i].jobId);
                }
                CPPUNIT_ASSERT(all[4].severity == Severity::Error);
                auto first = tx.listLogs(jobId, 2);
                CPPUNIT_ASSERT_EQUAL(size_t(2), first.size());
                CPPUNIT_ASSERT_EQUAL(std::string("line 0"), first[0].message);
                auto other = tx.listLogs(jobId + 1, 0);
                CPPUNIT_ASSERT_EQUAL(size_t(1), other.size());
                CPPUNIT_ASSERT_EQUAL(TimeMs(42), other[0].createdAt);
                CPPUNIT_ASSERT(tx.listLogs(777777, 0).empty());
            });
        });
    }

    // More rows than one multi-row INSERT takes, read back in the same transaction and
    // after; a rolled-back transaction leaves none.
    void testManyLogRowsKeepTheirOrder() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const std::int64_t jobId = addJob(*store, makeJob("c"));
            auto append = [&](Tx& tx, int from, int to) {
                for (int i = from; i < to; ++i) {
                    LogEntry e;
                    e.jobId = jobId;
                    e.message = "row " + std::to_string(i);
                    tx.appendLog(e);
                }
            };
            store->transact([&](Tx& tx) {
                append(tx, 0, 40);
                CPPUNIT_ASSERT_EQUAL(size_t(40), tx.listLogs(jobId, 0).size());  // seen at once
                append(tx, 40, 45);
            });
            CPPUNIT_ASSERT_THROW(store->transact([&](Tx& tx) {
                append(tx, 45, 50);
                throw std::runtime_error("rolled back");
            }),
                                 std::runtime_error);
            store->read([&](Tx& tx) {
                auto all = tx.listLogs(jobId, 0);
                CPPUNIT_ASSERT_EQUAL(size_t(45), all.size());
                for (size_t i = 0; i < all.size(); ++i) {
                    CPPUNIT_ASSERT_EQUAL("row " + std::to_string(i), all[i].message);
                    if (i) CPPUNIT_ASSERT(all[i].id > all[i - 1].id);
                }
            });
        });
    }

    // PostgreSQL writes a job's entries of one transaction as one row (SociTx::kLogPack):
    // read back, each entry is whole (any text), in its job's order, with an id of its own
    // between its row's and the next row's, and `limit` counts entries, not rows.
    void testLogEntriesOfATransactionShareARow() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const std::int64_t a = addJob(*store, makeJob("c"));
            const std::int64_t b = addJob(*store, makeJob("c"));
            const std::vector<std::string> texts = {
                "plain",
                "quote \" backslash \\ slash / newline \n tab \t bell \a end",
                "[1,2] {\"k\":\"v\"} , ] ]]",
                "unicode: \xc3\xa9\xe2\x82\xac\xf0\x9f\x8e\xac",
                "'; DROP TABLE logs; --",
                ""};
            std::vector<std::string> wanted;
            auto entry = [](std::int64_t job, const std::string& message, std::int64_t task) {
                LogEntry e;
                e.jobId = job;
                e.taskId = task;
                e.severity = task % 2 ? Severity::Warn : Severity::Info;
                e.progname = message.substr(0, 5);
                e.message = message;
                e.createdAt = 1000 + task;
                return e;
            };
            store->transact([&](Tx& tx) {
                // The jobs' entries interleave; more than a row holds for job a.
                for (size_t i = 0; i < store::SociTx::kLogPack + 4; ++i) {
                    const std::string text = texts[i % texts.size()] + " #" + std::to_string(i);
                    LogEntry ea = entry(a, text, static_cast<std::int64_t>(i));
                    tx.appendLog(ea);
                    wanted.push_back(text);
                    if (i % 3 == 0) {
                        LogEntry eb = entry(b, "b " + text, 0);
                        tx.appendLog(eb);
                    }
                }
            });
            store->transact([&](Tx& tx) {
                LogEntry late = entry(a, "later", 99);
                tx.appendLog(late);
            });
            wanted.push_back("later");
            store->read([&](Tx& tx) {
                auto all = tx.listLogs(a, 0);
                CPPUNIT_ASSERT_EQUAL(wanted.size(), all.size());
                for (size_t i = 0; i < all.size(); ++i) {
                    CPPUNIT_ASSERT_EQUAL(wanted[i], all[i].message);
                    CPPUNIT_ASSERT_EQUAL(a, all[i].jobId);
                    CPPUNIT_ASSERT_EQUAL(wanted[i].substr(0, 5), all[i].progname);
                    const std::int64_t task = i + 1 == all.size() ? 99 : i;
                    CPPUNIT_ASSERT_EQUAL(task, all[i].taskId);
                    CPPUNIT_ASSERT_EQUAL(TimeMs(1000 + task), all[i].createdAt);
                    CPPUNIT_ASSERT(all[i].severity == (task % 2 ? Severity::Warn : Severity::Info));
                    if (i) CPPUNIT_ASSERT(all[i].id > all[i - 1].id);
                }
                for (size_t limit : {1, 3, 17, 21, 40}) {
                    auto some = tx.listLogs(a, static_cast<int>(limit));
                    CPPUNIT_ASSERT_EQUAL(std::min(limit, all.size()), some.size());
                    for (size_t i = 0; i < some.size(); ++i) {
                        CPPUNIT_ASSERT_EQUAL(all[i].id, some[i].id);
                    }
                }
                auto ofB = tx.listLogs(b, 0);
                CPPUNIT_ASSERT_EQUAL(size_t(7), ofB.size());
                CPPUNIT_ASSERT_EQUAL(std::string("b plain #0"), ofB[0].message);
                std::set<std::int64_t> ids;
                for (const auto& e : all) ids.insert(e.id);
                for (const auto& e : ofB) CPPUNIT_ASSERT(ids.insert(e.id).second);
            });
            long long rows = 0;
            store::SqlQuery(openConnection(url)->session())
                .into(rows)
                .run("SELECT COUNT(*) FROM logs");
            // a: 16 + 4 in the first transaction, 1 in the second; b: 7. SQLite: a row each.
            const bool postgres = url.rfind("postgresql", 0) == 0;
            CPPUNIT_ASSERT_EQUAL(postgres ? 4LL : 28LL, rows);
        });
    }

    void testSettings() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            store->transact([](Tx& tx) {
                CPPUNIT_ASSERT(tx.settings().empty());
                tx.putSetting("max_jobs", "2");
                tx.putSetting("retry_delay", "5");
                tx.putSetting("max_jobs", "8");  // upsert
            });
            store->transact([](Tx& tx) {
                auto s = tx.settings();
                CPPUNIT_ASSERT_EQUAL(size_t(2), s.size());
                CPPUNIT_ASSERT_EQUAL(std::string("8"), s["max_jobs"]);
                CPPUNIT_ASSERT_EQUAL(std::string("5"), s["retry_delay"]);
            });
        });
    }

    void testSchedules() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            Schedule queue;
            queue.name = "queue_scheduled_jobs";
            queue.className = "QueueJobs";
            queue.everySec = 60;
            queue.description = "Queue scheduled jobs";
            Schedule purge = queue;
            purge.name = "purge_jobs";
            purge.className = "PurgeJobs";
            store->transact([&](Tx& tx) {
                tx.ensureSchedule(queue);
                tx.ensureSchedule(purge);
                tx.setScheduleActive("purge_jobs", false);
            });
            // A restart re-ensures the schedules with new timings: active stays as set.
            purge.everySec = 3600;
            purge.description = "Purge old jobs";
            purge.active = true;
            store->transact([&](Tx& tx) {
                tx.ensureSchedule(purge);
                auto list = tx.schedules();
                CPPUNIT_ASSERT_EQUAL(size_t(2), list.size());
                const Schedule& p = list[0].name == "purge_jobs" ? list[0] : list[1];
                const Schedule& q = list[0].name == "purge_jobs" ? list[1] : list[0];
                CPPUNIT_ASSERT_EQUAL(std::string("purge_jobs"), p.name);
                CPPUNIT_ASSERT(!p.active);
                CPPUNIT_ASSERT_EQUAL(3600, p.everySec);
                CPPUNIT_ASSERT_EQUAL(std::string("Purge old jobs"), p.description);
                CPPUNIT_ASSERT_EQUAL(std::string("PurgeJobs"), p.className);
                CPPUNIT_ASSERT_EQUAL(std::string("scheduler"), p.queue);
                CPPUNIT_ASSERT(q.active);
                CPPUNIT_ASSERT_EQUAL(5, q.firstInSec);
            });
            CPPUNIT_ASSERT_THROW(
                store->transact([](Tx& tx) { tx.setScheduleActive("nope", true); }), NotFoundError);
        });
    }

    void testOutboxOrderPerJobAndUrl() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const auto job1 = addJob(*store, makeJob("c"));
            const auto job2 = addJob(*store, makeJob("c"));
            // job1 → A: a1, a2, a3; job1 → B: b1; job2 → A: c1 (not yet due).
            std::vector<CallbackEvent> e = {
                makeEvent(job1, "http://a/cb", "a1"), makeEvent(job1, "http://a/cb", "a2"),
                makeEvent(job1, "http://b/cb", "b1"), makeEvent(job1, "http://a/cb", "a3"),
                makeEvent(job2, "http://a/cb", "c1")};
            e[4].nextAttemptAt = 5000;
            for (auto& ev : e) ev.createdAt = 10;  // explicit, kept
            for (size_t i = 0; i < 4; ++i) e[i].nextAttemptAt = 100;
            store->transact([&](Tx& tx) {
                for (auto& ev : e) CPPUNIT_ASSERT(tx.enqueueCallback(ev) > 0);
            });
            using Bodies = std::vector<std::string>;
            store->transact([&](Tx& tx) {
                CPPUNIT_ASSERT(Bodies({"a1", "b1"}) == bodiesOf(tx.dueCallbacks(1000, 10)));
                CPPUNIT_ASSERT(Bodies({"a1"}) == bodiesOf(tx.dueCallbacks(1000, 1)));
                CPPUNIT_ASSERT(tx.dueCallbacks(50, 10).empty());
                CPPUNIT_ASSERT(Bodies({"a1", "b1", "c1"}) == bodiesOf(tx.dueCallbacks(6000, 10)));
            });
            // a1 fails and backs off: its chain waits (a2 is due but not the head).
            e[0].attempts = 1;
            e[0].lastError = "HTTP 503";
            e[0].nextAttemptAt = 2000;
            store->transact([&](Tx& tx) {
                tx.updateCallback(e[0]);
                CPPUNIT_ASSERT(Bodies({"b1"}) == bodiesOf(tx.dueCallbacks(1000, 10)));
                CPPUNIT_ASSERT(Bodies({"a1", "b1"}) == bodiesOf(tx.dueCallbacks(2000, 10)));
            });
            // a1 delivered, b1 dead: a2 becomes the head.
            e[0].state = CallbackEvent::State::Delivered;
            e[0].deliveredAt = 2100;
            e[2].state = CallbackEvent::State::Dead;
            store->transact([&](Tx& tx) {
                tx.updateCallback(e[0]);
                tx.updateCallback(e[2]);
                CPPUNIT_ASSERT(Bodies({"a2"}) == bodiesOf(tx.dueCallbacks(2200, 10)));
            });
            store->transact([&](Tx& tx) {
                auto list = tx.listCallbacks(job1);
                CPPUNIT_ASSERT(Bodies({"a1", "a2", "b1", "a3"}) == bodiesOf(list));
                CPPUNIT_ASSERT(list[0].state == CallbackEvent::State::Delivered);
                CPPUNIT_ASSERT_EQUAL(1, list[0].attempts);
                CPPUNIT_ASSERT_EQUAL(std::string("HTTP 503"), list[0].lastError);
                CPPUNIT_ASSERT_EQUAL(TimeMs(2100), list[0].deliveredAt);
                CPPUNIT_ASSERT_EQUAL(TimeMs(10), list[0].createdAt);
                CPPUNIT_ASSERT_EQUAL(std::string(R"({"Workflow-Id":"52ec"})"), list[0].headers);
                CPPUNIT_ASSERT_EQUAL(std::string("demo-client"), list[0].client);
                CPPUNIT_ASSERT(list[2].state == CallbackEvent::State::Dead);
            });
        });
    }

    void testOutboxCountsAndUpdate() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const auto job = addJob(*store, makeJob("c"));
            CallbackEvent ev = makeEvent(job, "http://x", "{}");
            const TimeMs before = nowMs();
            store->transact([&](Tx& tx) {
                CallbackCounts none = tx.callbackCounts();
                CPPUNIT_ASSERT_EQUAL(std::int64_t(0), none.pending + none.delivered + none.dead);
                tx.enqueueCallback(ev);
                CallbackEvent second = makeEvent(job, "http://x", "{}");
                tx.enqueueCallback(second);
                second.state = CallbackEvent::State::Dead;
                tx.updateCallback(second);
                CallbackEvent third = makeEvent(job, "http://y", "{}");
                third.state = CallbackEvent::State::Delivered;
                tx.enqueueCallback(third);
            });
            // Defaults: created and due now.
            CPPUNIT_ASSERT(ev.createdAt >= before);
            CPPUNIT_ASSERT_EQUAL(ev.createdAt, ev.nextAttemptAt);
            store->transact([&](Tx& tx) {
                CallbackCounts c = tx.callbackCounts();
                CPPUNIT_ASSERT_EQUAL(std::int64_t(1), c.pending);
                CPPUNIT_ASSERT_EQUAL(std::int64_t(1), c.delivered);
                CPPUNIT_ASSERT_EQUAL(std::int64_t(1), c.dead);
                CPPUNIT_ASSERT_EQUAL(size_t(1), tx.dueCallbacks(nowMs(), 10).size());
            });
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StoreMiscTest);

}  // namespace te::test
