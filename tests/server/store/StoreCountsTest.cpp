// Conformance: the counts GET /health shows, kept by the store between transactions.
#include <chrono>
#include <future>
#include <thread>

#include "tests/server/store/StoreTestSupport.h"

namespace te::test {
namespace {

// The counts as the tables hold them.
StateCounts counted(Store& store) {
    StateCounts counts;
    store.read([&](Tx& tx) { counts = tx.countStates(); });
    return counts;
}

void expectSame(const StateCounts& expected, const StateCounts& actual, const std::string& when) {
    CPPUNIT_ASSERT_EQUAL_MESSAGE(when, describe(expected), describe(actual));
}

// What the store shows must be what the tables hold.
void expectTrue(Store& store, const std::string& when) {
    expectSame(counted(store), store.stateCounts(), when);
}

// A job the store cannot know about: written by another connection, as a second server
// would. Whether the store's counts see it tells kept counts from counts read again.
void insertBehindTheStore(const std::string& url) {
    auto db = openConnection(url);
    store::SqlQuery(db->session())
        .run(
            "INSERT INTO jobs (client, workflow, priority, parameters, headers, context,"
            " queue_state, failed, created_at, updated_at, run_at)"
            " VALUES ('behind', 'transcode', 5, '{}', '{}', '{}', 6, 0, 1, 1, 1)");
}

std::int64_t addTask(Store& store, Task&& task) {
    store.transact([&](Tx& tx) { tx.insertTask(task); });
    return task.id;
}

std::int64_t paused(Store& store) {
    return store.stateCounts().jobs[static_cast<int>(JobState::Paused)];
}

}  // namespace

class StoreCountsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StoreCountsTest);
    CPPUNIT_TEST(testCountsFollowEveryCommit);
    CPPUNIT_TEST(testCountsAreKeptUntilAChangeIsNotKnown);
    CPPUNIT_TEST(testCountsReadWhileAClaimEnds);
    CPPUNIT_TEST(testCountsHoldWithClaimsSideBySide);
    CPPUNIT_TEST(testPostgresTaskClaimedAfterItWasReadIsCountedAgain);
    CPPUNIT_TEST_SUITE_END();

public:
    // Jobs and tasks through their states, as the engine moves them: after each commit the
    // store's counts are the tables'.
    void testCountsFollowEveryCommit() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            expectTrue(*store, "empty");
            Job job = makeJob("c");
            std::vector<std::int64_t> taskIds;
            store->transact([&](Tx& tx) {
                tx.insertJob(job);
                Job other = makeJob("c");
                other.state = JobState::Scheduled;
                tx.insertJob(other);
                // Inserted, then changed before it is written.
                auto seen = tx.findJob(job.id);
                seen->state = JobState::Started;
                tx.updateJob(*seen);
                for (const char* queue : {"work", "work", "gpu"}) {
                    Task task = makeTask(job.id, queue);
                    taskIds.push_back(tx.insertTask(task));
                }
                Task waiting = makeTask(job.id);
                waiting.state = TaskState::Waiting;
                taskIds.push_back(tx.insertTask(waiting));
            });
            expectTrue(*store, "inserted");
            store->transactOneWrite([&](Tx& tx) {
                CPPUNIT_ASSERT_EQUAL(size_t(2),
                                     tx.claimTasks({"work"}, "w1", 5, nowMs(), 1).size());
            });
            expectTrue(*store, "claimed");
            store->transact([&](Tx& tx) {
                auto first = tx.findTask(taskIds[0]);
                first->state = TaskState::Running;
                tx.updateTask(*first);
                first->state = TaskState::Completed;  // twice in one transaction
                tx.updateTask(*first);
                auto second = tx.findTask(taskIds[1]);
                second->state = TaskState::Failed;
                tx.updateTask(*second);
                auto waiting = tx.findTask(taskIds[3]);
                waiting->state = TaskState::Queued;
                waiting->queue = "gpu";
                tx.updateTask(*waiting);
            });
            expectTrue(*store, "finished");
            try {
                store->transact([&](Tx& tx) {
                    auto row = tx.findJob(job.id);
                    row->state = JobState::Broken;
                    tx.updateJob(*row);
                    Task more = makeTask(job.id);
                    tx.insertTask(more);
                    tx.listLogs(job.id, 1);  // its writes go out before this query
                    throw std::runtime_error("rolled back");
                });
                CPPUNIT_FAIL("the transaction should have failed");
            } catch (const std::runtime_error&) {
            }
            expectTrue(*store, "rolled back");
            store->transact([&](Tx& tx) {
                auto row = tx.findJob(job.id);
                row->state = JobState::Completed;
                row->failed = true;
                tx.updateJob(*row);
            });
            expectTrue(*store, "failed job");
            const StateCounts counts = store->stateCounts();
            CPPUNIT_ASSERT_EQUAL(std::int64_t(1), counts.failedJobs);
            CPPUNIT_ASSERT_EQUAL(std::int64_t(1),
                                 counts.jobs[static_cast<int>(JobState::Scheduled)]);
            const TaskTotals totals = counts.totals();
            CPPUNIT_ASSERT_EQUAL(std::int64_t(1), totals.failed);
            CPPUNIT_ASSERT_EQUAL(std::int64_t(2), totals.pending);  // gpu's two queued
            CPPUNIT_ASSERT_EQUAL(std::int64_t(2), totals.processed);
            CPPUNIT_ASSERT_EQUAL(size_t(1), counts.queues.size());  // work has none open
            CPPUNIT_ASSERT_EQUAL(std::int64_t(2), counts.queues.at("gpu").pending);
        });
    }

    // The counts are read once and kept: a row written behind the store's back does not show.
    // A change the store cannot know (a row it had not read) drops them, and the next call
    // reads the tables again.
    void testCountsAreKeptUntilAChangeIsNotKnown() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            CPPUNIT_ASSERT_EQUAL(std::int64_t(0), paused(*store));
            Job job = makeJob("c");
            addJob(*store, job);
            insertBehindTheStore(url);
            CPPUNIT_ASSERT_EQUAL(std::int64_t(0), paused(*store));  // kept
            Job unseen = job;
            unseen.state = JobState::Started;
            store->transact([&](Tx& tx) { tx.updateJob(unseen); });
            CPPUNIT_ASSERT_EQUAL(std::int64_t(1), paused(*store));  // read again
            expectTrue(*store, "after a job it had not read");
            insertBehindTheStore(url);
            CPPUNIT_ASSERT_EQUAL(std::int64_t(1), paused(*store));  // kept again

            // The same for a task.
            Task task = makeTask(job.id);
            store->transact([&](Tx& tx) { tx.insertTask(task); });
            insertBehindTheStore(url);
            task.state = TaskState::Running;
            store->transact([&](Tx& tx) { tx.updateTask(task); });
            CPPUNIT_ASSERT_EQUAL(std::int64_t(3), paused(*store));
            expectTrue(*store, "after a task it had not read");
        });
    }

    // On PostgreSQL a claim commits as its statement runs, before its transaction ends. A read
    // of the counts in between sees it, and must not be kept: the claim's own change would
    // then be counted a second time.
    void testCountsReadWhileAClaimEnds() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);  // no counts kept yet
            const auto jobId = addJob(*store, makeJob("c"));
            addTask(*store, makeTask(jobId));
            store->transactOneWrite([&](Tx& tx) {
                CPPUNIT_ASSERT_EQUAL(size_t(1),
                                     tx.claimTasks({"work"}, "w1", 1, nowMs(), 1).size());
                std::async(std::launch::async, [&] { store->stateCounts(); }).get();
            });
            expectTrue(*store, "claimed");
            store->transactOneWrite([&](Tx& tx) {
                CPPUNIT_ASSERT(tx.claimTasks({"work"}, "w1", 1, nowMs(), 1).empty());
                std::async(std::launch::async, [&] { store->stateCounts(); }).get();
            });
            expectTrue(*store, "nothing claimed");
        });
    }

    // Claims commit on connections of their own on PostgreSQL, beside the engine's
    // transactions, while /health asks. Counts that one read could keep must end as the
    // tables say.
    void testCountsHoldWithClaimsSideBySide() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const auto jobId = addJob(*store, makeJob("c"));
            constexpr int kRounds = 60;
            std::atomic<bool> done{false};
            auto submit = std::async(std::launch::async, [&] {
                for (int round = 0; round < kRounds; ++round) {
                    store->transact([&](Tx& tx) {
                        for (int i = 0; i < 3; ++i) {
                            Task task = makeTask(jobId, i == 2 ? "gpu" : "work");
                            tx.insertTask(task);
                        }
                    });
                }
            });
            auto claim = [&](const std::string& worker) {
                return std::async(std::launch::async, [&, worker] {
                    while (!done) {
                        std::vector<Task> claimed;
                        store->transactOneWrite([&](Tx& tx) {
                            claimed = tx.claimTasks({"work", "gpu"}, worker, 2, nowMs(), 1);
                        });
                        if (claimed.empty()) continue;
                        store->transact([&](Tx& tx) {
                            for (const Task& t : claimed) {
                                auto row = tx.findTask(t.id);
                                row->state = row->id % 2 ? TaskState::Completed : TaskState::Failed;
                                tx.updateTask(*row);
                            }
                        });
                    }
                });
            };
            auto w1 = claim("w1");
            auto w2 = claim("w2");
            // Asks while the others commit: a read that some commit may have missed is not
            // kept.
            auto ask = std::async(std::launch::async, [&] {
                while (!done) store->stateCounts();
            });
            submit.get();
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
            while (store->stateCounts().totals().pending > 0 &&
                   std::chrono::steady_clock::now() < deadline) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            done = true;
            w1.get();
            w2.get();
            ask.get();
            expectTrue(*store, "after the claims");
            CPPUNIT_ASSERT_EQUAL(std::int64_t(kRounds * 3),
                                 store->stateCounts().totals().processed);
        });
    }

    // A task read as queued may be claimed on another connection before the transaction that
    // read it writes it. Its change is then not known: the counts are read again rather than
    // take a queued task out twice.
    void testPostgresTaskClaimedAfterItWasReadIsCountedAgain() {
        const std::string url = PostgresFixture::instance().freshDatabase();
        auto store = Store::open(url);
        const auto jobId = addJob(*store, makeJob("c"));
        Task task = makeTask(jobId);
        store->transact([&](Tx& tx) { tx.insertTask(task); });
        expectTrue(*store, "queued");
        store->transact([&](Tx& tx) {
            auto row = tx.findTask(task.id);
            CPPUNIT_ASSERT(row->state == TaskState::Queued);
            std::async(std::launch::async, [&] {
                store->transactOneWrite([&](Tx& claims) {
                    CPPUNIT_ASSERT_EQUAL(size_t(1),
                                         claims.claimTasks({"work"}, "w1", 1, nowMs(), 1).size());
                });
            }).get();
            row->state = TaskState::Cancelled;  // as a job that breaks cancels its queued tasks
            tx.updateTask(*row);
        });
        expectTrue(*store, "cancelled over a claim");
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StoreCountsTest);

}  // namespace te::test
