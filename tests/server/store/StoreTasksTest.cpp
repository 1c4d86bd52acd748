// Conformance: tasks (rows, claims, leases, targeted copies, counts).
#include <soci/sqlite3/soci-sqlite3.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "server/store/Migrations.h"
#include "server/store/SociTx.h"
#include "server/store/SqlQuery.h"
#include "shared/Errors.h"
#include "tests/server/store/StoreTestSupport.h"

namespace te::test {
namespace {

std::int64_t addTask(Store& store, Task& task) {
    store.transact([&](Tx& tx) { tx.insertTask(task); });
    return task.id;
}
std::int64_t addTask(Store& store, Task&& task) { return addTask(store, task); }

}  // namespace

class StoreTasksTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StoreTasksTest);
    CPPUNIT_TEST(testInsertFindUpdate);
    CPPUNIT_TEST(testClaim);
    CPPUNIT_TEST(testClaimsAtCommit);
    CPPUNIT_TEST(testLeases);
    CPPUNIT_TEST(testStatesTargetedAndCounts);
    CPPUNIT_TEST(testConcurrentClaimsNeverShareATask);
    CPPUNIT_TEST(testSqliteQueriesUseThePartialIndexes);
    CPPUNIT_TEST(testUnwrittenChangesAnswerWithinTheTransaction);
    CPPUNIT_TEST(testFailedBatchOfWritesLosesTheTransactionOnly);
    CPPUNIT_TEST(testFailedInsertsCommitNothing);
    CPPUNIT_TEST(testAWriteThatFindsNoRowCommitsNothing);
    CPPUNIT_TEST(testJobsKeptWholeAnswerAsTheDatabaseDoes);
    CPPUNIT_TEST(testStageProbesFollowTheTransactionsWrites);
    CPPUNIT_TEST(testRowsCommittedHereAreNotReadAgain);
    CPPUNIT_TEST(testFanOutStageAnswersFromMemory);
    CPPUNIT_TEST(testRenewalSkipsRowsAnotherTransactionHolds);
    CPPUNIT_TEST(testDeadlockVictimRunsAgain);
    CPPUNIT_TEST_SUITE_END();

public:
    void testInsertFindUpdate() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const auto jobId = addJob(*store, makeJob("c"));
            Task task = makeTask(jobId, "gpu", 3);
            task.stage = 1;
            task.kind = TaskKind::Spawn;
            task.state = TaskState::Waiting;
            task.maxAttempts = 4;
            task.builtin = "sleep";
            task.args = R"(["-i","in.mp4"])";
            task.timeoutSec = 30;
            const TimeMs before = nowMs();
            store->transact([&](Tx& tx) { CPPUNIT_ASSERT(tx.insertTask(task) > 0); });
            CPPUNIT_ASSERT(task.createdAt >= before);

            std::optional<Task> found;
            store->transact([&](Tx& tx) { found = tx.findTask(task.id); });
            CPPUNIT_ASSERT(found);
            CPPUNIT_ASSERT_EQUAL(jobId, found->jobId);
            CPPUNIT_ASSERT_EQUAL(1, found->stage);
            CPPUNIT_ASSERT_EQUAL(std::string("encode"), found->name);
            CPPUNIT_ASSERT(found->kind == TaskKind::Spawn);
            CPPUNIT_ASSERT(found->state == TaskState::Waiting);
            CPPUNIT_ASSERT_EQUAL(std::string("gpu"), found->queue);
            CPPUNIT_ASSERT_EQUAL(3, found->priority);
            CPPUNIT_ASSERT_EQUAL(4, found->maxAttempts);
            CPPUNIT_ASSERT_EQUAL(1, found->attempt);
            CPPUNIT_ASSERT_EQUAL(std::string("sleep"), found->builtin);
            CPPUNIT_ASSERT_EQUAL(task.args, found->args);
            CPPUNIT_ASSERT_EQUAL(30, found->timeoutSec);
            CPPUNIT_ASSERT(!found->exitCode);  // NULL until the task exits
            CPPUNIT_ASSERT_EQUAL(task.createdAt, found->createdAt);

            Task changed = *found;
            changed.state = TaskState::Failed;
            changed.exitCode = 0;  // a real 0, not "none"
            changed.output = R"({"k":"v"})";
            changed.message = "exit 0 but failed";
            changed.worker = "w1";
            changed.startedAt = 10;
            changed.finishedAt = 20;
            changed.notBefore = 30;
            changed.leaseUntil = 40;
            store->transact([&](Tx& tx) { tx.updateTask(changed); });
            store->transact([&](Tx& tx) { found = tx.findTask(task.id); });
            CPPUNIT_ASSERT(found->state == TaskState::Failed);
            CPPUNIT_ASSERT(found->exitCode && *found->exitCode == 0);
            CPPUNIT_ASSERT_EQUAL(changed.output, found->output);
            CPPUNIT_ASSERT_EQUAL(changed.message, found->message);
            CPPUNIT_ASSERT_EQUAL(std::string("w1"), found->worker);
            CPPUNIT_ASSERT_EQUAL(TimeMs(20), found->finishedAt);
            CPPUNIT_ASSERT_EQUAL(TimeMs(40), found->leaseUntil);
            changed.exitCode.reset();
            store->transact([&](Tx& tx) { tx.updateTask(changed); });
            store->transact([&](Tx& tx) { CPPUNIT_ASSERT(!tx.findTask(task.id)->exitCode); });

            const auto second = addTask(*store, makeTask(jobId));
            const auto otherJob = addJob(*store, makeJob("c"));
            addTask(*store, makeTask(otherJob));
            store->transact([&](Tx& tx) {
                CPPUNIT_ASSERT(std::vector<std::int64_t>({task.id, second}) ==
                               idsOf(tx.listTasks(jobId)));
                CPPUNIT_ASSERT(!tx.findTask(999999));
                CPPUNIT_ASSERT(tx.listTasks(999999).empty());
            });
            Task ghost = makeTask(jobId);
            ghost.id = 999999;
            CPPUNIT_ASSERT_THROW(store->transact([&](Tx& tx) { tx.updateTask(ghost); }),
                                 NotFoundError);
            // A task needs its job.
            CPPUNIT_ASSERT_THROW(addTask(*store, makeTask(888888)), StoreError);
        });
    }

    void testClaim() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const auto jobId = addJob(*store, makeJob("c"));
            const auto low = addTask(*store, makeTask(jobId, "work", 7));
            const auto urgent = addTask(*store, makeTask(jobId, "work", 1));
            const auto normal = addTask(*store, makeTask(jobId, "work", 5));
            const auto otherQueue = addTask(*store, makeTask(jobId, "gpu", 0));
            Task waiting = makeTask(jobId, "work", 0);
            waiting.state = TaskState::Waiting;
            addTask(*store, waiting);
            Task delayed = makeTask(jobId, "work", 0);
            delayed.notBefore = 5000;
            const auto delayedId = addTask(*store, delayed);
            Task targeted = makeTask(jobId, "work", 0);
            targeted.targetWorker = "w2";
            const auto targetedId = addTask(*store, targeted);

            std::vector<Task> claimed;
            store->transact(
                [&](Tx& tx) { claimed = tx.claimTasks({"work"}, "w1", 2, 1000, 9000); });
            CPPUNIT_ASSERT(Ids({urgent, normal}) == idsOf(claimed));
            for (const Task& t : claimed) {
                CPPUNIT_ASSERT(t.state == TaskState::Assigned);
                CPPUNIT_ASSERT_EQUAL(std::string("w1"), t.worker);
                CPPUNIT_ASSERT_EQUAL(TimeMs(9000), t.leaseUntil);
                CPPUNIT_ASSERT_EQUAL(1, t.attempt);
            }
            store->transact([&](Tx& tx) {
                auto stored = tx.findTask(urgent);
                CPPUNIT_ASSERT(stored->state == TaskState::Assigned);
                CPPUNIT_ASSERT_EQUAL(std::string("w1"), stored->worker);
                // Already assigned tasks are not claimed twice; the rest waits its turn.
                CPPUNIT_ASSERT(Ids({low}) == idsOf(tx.claimTasks({"work"}, "w1", 10, 1000, 9000)));
                CPPUNIT_ASSERT(tx.claimTasks({"work"}, "w1", 10, 1000, 9000).empty());
                // The targeted copy goes only to its worker; the delayed one after notBefore.
                CPPUNIT_ASSERT(Ids({targetedId}) ==
                               idsOf(tx.claimTasks({"work"}, "w2", 10, 1000, 9000)));
                CPPUNIT_ASSERT(Ids({delayedId}) ==
                               idsOf(tx.claimTasks({"work"}, "w3", 10, 5000, 9000)));
                CPPUNIT_ASSERT(tx.claimTasks({}, "w3", 10, 5000, 9000).empty());
                CPPUNIT_ASSERT(
                    Ids({otherQueue}) ==
                    idsOf(tx.claimTasks({"cpu", "gpu", "x' OR 1=1 --"}, "w3", 10, 5000, 9000)));
            });
        });
    }

    // Claims that go with COMMIT (PostgreSQL: in its round trip) find what the claims
    // before them left and the tasks the transaction inserted, are counted, and are lost
    // with a transaction that does not commit.
    void testClaimsAtCommit() {
        forEachBackend([](const std::string& url) {
            const bool postgres = url.rfind("postgresql", 0) == 0;
            auto store = Store::open(url);
            const auto jobId = addJob(*store, makeJob("c"));
            const auto older = addTask(*store, makeTask(jobId, "work", 5));
            std::vector<Task> first, second, third;
            Ids made;
            store->transact([&](Tx& tx) {
                for (int priority : {7, 1}) {
                    Task t = makeTask(jobId, "work", priority);
                    made.push_back(tx.insertTask(t));
                }
                tx.claimTasksAtCommit({"work"}, "w1", 2, nowMs(), nowMs() + 1000, first);
                tx.claimTasksAtCommit({"work"}, "w2", 5, nowMs(), nowMs() + 1000, second);
                tx.claimTasksAtCommit({"gpu"}, "w3", 5, nowMs(), nowMs() + 1000, third);
                // PostgreSQL sends them with COMMIT; SQLite has no round trip to save.
                CPPUNIT_ASSERT_EQUAL(postgres, first.empty());
            });
            CPPUNIT_ASSERT(Ids({made[1], older}) == idsOf(first));
            CPPUNIT_ASSERT(Ids({made[0]}) == idsOf(second));
            CPPUNIT_ASSERT(third.empty());
            for (const Task& t : first) {
                CPPUNIT_ASSERT(t.state == TaskState::Assigned);
                CPPUNIT_ASSERT_EQUAL(std::string("w1"), t.worker);
            }
            QueueCounts work = store->stateCounts().queues["work"];
            CPPUNIT_ASSERT_EQUAL(std::int64_t(0), work.pending);
            CPPUNIT_ASSERT_EQUAL(std::int64_t(3), work.working);
            // As the database has them, not only as this store keeps them.
            std::string worker;
            store::SqlQuery(openConnection(url)->session())
                .into(worker)
                .bind(made[0])
                .run("SELECT worker FROM tasks WHERE id = :id");
            CPPUNIT_ASSERT_EQUAL(std::string("w2"), worker);

            // A read after the claim sends it first.
            std::int64_t next = 0;
            std::vector<Task> early;
            store->transact([&](Tx& tx) {
                Task t = makeTask(jobId, "work", 1);
                next = tx.insertTask(t);
                tx.claimTasksAtCommit({"work"}, "w1", 5, nowMs(), nowMs() + 1000, early);
                CPPUNIT_ASSERT(tx.claimTasks({"work"}, "w2", 5, nowMs(), nowMs() + 1000).empty());
                CPPUNIT_ASSERT(Ids({next}) == idsOf(early));
            });

            // Not committed: nothing claimed. A running task the store knows (and on
            // PostgreSQL keeps), deleted behind its back: its write goes in COMMIT's round
            // trip, ahead of the claim, finds no row and stops the rest.
            Task running = makeTask(jobId, "gpu");
            running.state = TaskState::Running;
            const auto victim = addTask(*store, running);
            store::SqlQuery(openConnection(url)->session())
                .bind(victim)
                .run("DELETE FROM tasks WHERE id = :id");
            std::int64_t lost = 0;
            std::vector<Task> none;
            CPPUNIT_ASSERT_THROW(store->transact([&](Tx& tx) {
                Task t = makeTask(jobId, "work", 1);
                lost = tx.insertTask(t);
                tx.claimTasksAtCommit({"work"}, "w1", 5, nowMs(), nowMs() + 1000, none);
                auto seen = tx.findTask(victim);
                CPPUNIT_ASSERT_EQUAL(postgres, seen.has_value());
                if (!seen) throw NotFoundError("task not found");  // SQLite reads the table
                seen->state = TaskState::Completed;
                tx.updateTask(*seen);
            }),
                                 NotFoundError);
            if (postgres) CPPUNIT_ASSERT(none.empty());
            store->transact([&](Tx& tx) { CPPUNIT_ASSERT(!tx.findTask(lost)); });
            work = store->stateCounts().queues["work"];
            CPPUNIT_ASSERT_EQUAL(std::int64_t(0), work.pending);
            CPPUNIT_ASSERT_EQUAL(std::int64_t(4), work.working);
        });
    }

    void testLeases() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const auto jobId = addJob(*store, makeJob("c"));
            for (int i = 0; i < 3; ++i) addTask(*store, makeTask(jobId));
            std::vector<Task> mine, theirs;
            store->transact([&](Tx& tx) {
                mine = tx.claimTasks({"work"}, "w1", 2, 100, 1000);
                theirs = tx.claimTasks({"work"}, "w2", 1, 100, 1000);
            });
            mine[1].state = TaskState::Running;
            store->transact([&](Tx& tx) { tx.updateTask(mine[1]); });
            const std::vector<std::int64_t> all = {mine[0].id, mine[1].id, theirs[0].id};
            store->transact([&](Tx& tx) {
                // Only those the worker holds, of the tasks named.
                CPPUNIT_ASSERT_EQUAL(2, tx.renewLeases("w1", all, 5000));
                CPPUNIT_ASSERT_EQUAL(0, tx.renewLeases("nobody", all, 5000));
                CPPUNIT_ASSERT_EQUAL(0, tx.renewLeases("w1", {}, 5000));
                CPPUNIT_ASSERT(tx.expiredLeases(999, 10).empty());
                // Only w2's lease ended by 2000.
                auto expired = tx.expiredLeases(2000, 10);
                CPPUNIT_ASSERT(std::vector<std::int64_t>({theirs[0].id}) == idsOf(expired));
                CPPUNIT_ASSERT_EQUAL(size_t(3), tx.expiredLeases(6000, 10).size());
                CPPUNIT_ASSERT_EQUAL(size_t(1), tx.expiredLeases(6000, 1).size());
            });
            // A finished task holds no lease.
            mine[0].state = TaskState::Completed;
            store->transact([&](Tx& tx) {
                tx.updateTask(mine[0]);
                CPPUNIT_ASSERT_EQUAL(1, tx.renewLeases("w1", all, 7000));
                CPPUNIT_ASSERT_EQUAL(size_t(2), tx.expiredLeases(8000, 10).size());
            });
            // A task the worker holds but the renewal does not name keeps its lease (one
            // assigned without the dispatcher knowing runs out and is queued again).
            store->transact([&](Tx& tx) {
                CPPUNIT_ASSERT_EQUAL(0, tx.renewLeases("w1", {mine[0].id}, 9000));
                CPPUNIT_ASSERT_EQUAL(1, tx.renewLeases("w2", {theirs[0].id}, 9000));
                CPPUNIT_ASSERT(idsOf(tx.expiredLeases(8000, 10)) ==
                               std::vector<std::int64_t>{mine[1].id});
            });
        });
    }

    void testStatesTargetedAndCounts() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const auto jobId = addJob(*store, makeJob("c"));
            const auto otherJob = addJob(*store, makeJob("c"));
            const std::vector<std::pair<std::string, TaskState>> rows = {
                {"work", TaskState::Queued},    {"work", TaskState::Queued},
                {"work", TaskState::Assigned},  {"gpu", TaskState::Running},
                {"gpu", TaskState::Completed},  {"gpu", TaskState::Failed},
                {"work", TaskState::Retried},   {"work", TaskState::Incomplete},
                {"work", TaskState::Cancelled}, {"work", TaskState::Waiting}};
            std::vector<std::int64_t> ids;
            for (const auto& [queue, state] : rows) {
                Task t = makeTask(jobId, queue);
                t.state = state;
                ids.push_back(addTask(*store, t));
            }
            Task elsewhere = makeTask(otherJob);
            elsewhere.state = TaskState::Running;
            addTask(*store, elsewhere);
            Task oldTarget = makeTask(otherJob);
            oldTarget.targetWorker = "w9";
            oldTarget.createdAt = 100;
            const auto oldTargetId = addTask(*store, oldTarget);
            Task newTarget = oldTarget;
            newTarget.createdAt = 900;
            addTask(*store, newTarget);
            Task assignedTarget = oldTarget;
            assignedTarget.state = TaskState::Assigned;
            addTask(*store, assignedTarget);

            store->transact([&](Tx& tx) {
                CPPUNIT_ASSERT(
                    Ids({ids[2], ids[3]}) ==
                    idsOf(tx.tasksInStates(jobId, {TaskState::Running, TaskState::Assigned})));
                CPPUNIT_ASSERT(tx.tasksInStates(jobId, {}).empty());
                // Every row of `rows` is in stage 0 (makeTask's default); none in stage 1.
                CPPUNIT_ASSERT(tx.anyStageTask(jobId, 0, {TaskState::Queued}));
                CPPUNIT_ASSERT(
                    tx.anyStageTask(otherJob, 0, {TaskState::Completed, TaskState::Running}));
                CPPUNIT_ASSERT(!tx.anyStageTask(otherJob, 0, {TaskState::Completed}));
                CPPUNIT_ASSERT(!tx.anyStageTask(jobId, 1, {TaskState::Queued}));
                CPPUNIT_ASSERT(!tx.anyStageTask(jobId, 0, {}));
                CPPUNIT_ASSERT(Ids({oldTargetId}) == idsOf(tx.undeliveredTargeted(500, 10)));

                auto byQueue = tx.taskCountsByQueue();
                CPPUNIT_ASSERT_EQUAL(size_t(2), byQueue.size());
                CPPUNIT_ASSERT_EQUAL(std::int64_t(4), byQueue["work"].pending);  // 2 + 2 targeted
                CPPUNIT_ASSERT_EQUAL(std::int64_t(3), byQueue["work"].working);
                CPPUNIT_ASSERT_EQUAL(std::int64_t(0), byQueue["gpu"].pending);
                CPPUNIT_ASSERT_EQUAL(std::int64_t(1), byQueue["gpu"].working);

                TaskTotals totals = tx.countStates().totals();
                CPPUNIT_ASSERT_EQUAL(std::int64_t(1), totals.failed);
                CPPUNIT_ASSERT_EQUAL(std::int64_t(8), totals.pending);
                CPPUNIT_ASSERT_EQUAL(std::int64_t(4), totals.processed);
            });
        });
    }

    // Four threads claim from one queue at once: every task is claimed exactly once. On
    // PostgreSQL this runs transactions side by side (SKIP LOCKED); on SQLite serialized.
    void testConcurrentClaimsNeverShareATask() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const auto jobId = addJob(*store, makeJob("c"));
            const int total = 200;
            store->transact([&](Tx& tx) {
                for (int i = 0; i < total; ++i) {
                    Task t = makeTask(jobId);
                    tx.insertTask(t);
                }
            });
            std::mutex mutex;
            std::vector<std::int64_t> claimed;
            std::atomic<int> errors{0};
            std::vector<std::thread> threads;
            for (int w = 0; w < 4; ++w) {
                threads.emplace_back([&, w] {
                    try {
                        for (;;) {
                            std::vector<Task> got;
                            store->transact([&](Tx& tx) {
                                got = tx.claimTasks({"work"}, "w" + std::to_string(w), 3, nowMs(),
                                                    nowMs() + 60000);
                            });
                            if (got.empty()) return;
                            std::lock_guard<std::mutex> lock(mutex);
                            for (const auto& t : got) claimed.push_back(t.id);
                        }
                    } catch (const std::exception&) {
                        ++errors;
                    }
                });
            }
            for (auto& t : threads) t.join();
            CPPUNIT_ASSERT_EQUAL(0, errors.load());
            CPPUNIT_ASSERT_EQUAL(size_t(total), claimed.size());
            CPPUNIT_ASSERT_EQUAL(size_t(total),
                                 std::set<std::int64_t>(claimed.begin(), claimed.end()).size());
        });
    }

    // The claim, admission and the scheduler name states the way the partial indexes do;
    // were the terms to differ, SQLite would sort every queued task (job) at each claim
    // (admission) instead.
    void testSqliteQueriesUseThePartialIndexes() {
        TempDir dir;
        const std::string path = dir.file("plans.db");
        auto store = Store::open("sqlite3://db=" + path);
        soci::session db(*soci::factory_sqlite3(), "db=" + path);
        auto plan = [&](const std::string& sql) { return sqlitePlan(db, sql); };
        const std::string queued = store::kQueuedTaskTerm;
        const std::string claim = plan("SELECT id FROM tasks WHERE " + queued +
                                       " AND queue IN ('work') AND not_before <= 5"
                                       " ORDER BY priority, id LIMIT 4");
        CPPUNIT_ASSERT_MESSAGE(claim, claim.find("tasks_queued") != std::string::npos);
        const std::string expired =
            plan("SELECT id FROM tasks WHERE state IN (2, 3) AND lease_until < 5");
        CPPUNIT_ASSERT_MESSAGE(expired, expired.find("tasks_state") != std::string::npos);
        const std::string admission =
            plan("SELECT id FROM jobs WHERE " + std::string(store::kQueuedJobTerm) +
                 " ORDER BY priority, run_at, id LIMIT 16");
        CPPUNIT_ASSERT_MESSAGE(admission, admission.find("jobs_queued") != std::string::npos);
        const std::string due =
            plan("SELECT id FROM jobs WHERE " + std::string(store::kWaitingJobTerm) +
                 " AND queue_state = 5 AND run_at <= 9 ORDER BY run_at, id LIMIT 10");
        CPPUNIT_ASSERT_MESSAGE(due, due.find("jobs_waiting") != std::string::npos);
        const std::string stage =
            plan("SELECT 1 FROM tasks WHERE job_id = 1 AND stage = 0 AND state IN (0, 1, 2, 3)");
        CPPUNIT_ASSERT_MESSAGE(stage, stage.find("tasks_state") != std::string::npos);
    }

    // The store keeps updates and (PostgreSQL) inserts of rows it has seen and writes them
    // together later; every query in the same transaction still answers as if each had been
    // written at once.
    void testUnwrittenChangesAnswerWithinTheTransaction() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            Job stored = makeJob("c");
            const auto jobId = addJob(*store, stored);
            Task first = makeTask(jobId);
            addTask(*store, first);
            Task second = makeTask(jobId);
            store->transact([&](Tx& tx) {
                tx.prefetchTasks({first.id, first.id, 987654321});
                Task t = *tx.findTask(first.id);
                t.state = TaskState::Completed;
                t.output = R"({"file":"a.mp4"})";
                tx.updateTask(t);
                // In the same stage: one new queued task, one new task updated before written.
                tx.insertTask(second);
                Task third = makeTask(jobId);
                tx.insertTask(third);
                third.state = TaskState::Waiting;
                tx.updateTask(third);

                CPPUNIT_ASSERT(tx.findTask(first.id)->state == TaskState::Completed);
                CPPUNIT_ASSERT_EQUAL(jobId, tx.findTask(third.id)->jobId);
                const auto all = tx.listTasks(jobId);
                CPPUNIT_ASSERT_EQUAL(size_t(3), all.size());
                CPPUNIT_ASSERT_EQUAL(first.id, all[0].id);
                CPPUNIT_ASSERT(all[0].state == TaskState::Completed);
                CPPUNIT_ASSERT_EQUAL(std::string(R"({"file":"a.mp4"})"), all[0].output);
                CPPUNIT_ASSERT(all[2].state == TaskState::Waiting);
                CPPUNIT_ASSERT(idsOf(tx.tasksInStates(jobId, {TaskState::Queued})) ==
                               std::vector<std::int64_t>{second.id});
                CPPUNIT_ASSERT(idsOf(tx.tasksInStates(jobId, {TaskState::Assigned})).empty());
                CPPUNIT_ASSERT(tx.anyStageTask(jobId, 0, {TaskState::Completed}));
                CPPUNIT_ASSERT(tx.anyStageTask(jobId, 0, {TaskState::Waiting}));
                CPPUNIT_ASSERT(!tx.anyStageTask(jobId, 0, {TaskState::Assigned}));
                CPPUNIT_ASSERT(!tx.anyStageTask(jobId, 1, {TaskState::Queued}));

                // A claim sees the new queued task, and a later update of it goes out.
                auto claimed = tx.claimTasks({"work"}, "w1", 5, nowMs(), nowMs() + 1000);
                CPPUNIT_ASSERT(idsOf(claimed) == std::vector<std::int64_t>{second.id});
                CPPUNIT_ASSERT(tx.findTask(second.id)->state == TaskState::Assigned);
                CPPUNIT_ASSERT_EQUAL(1, tx.renewLeases("w1", {second.id}, 77));
                CPPUNIT_ASSERT_EQUAL(TimeMs(77), tx.findTask(second.id)->leaseUntil);

                // Jobs: an unwritten start is counted by the next query, and a second update
                // of the same job in the transaction joins the first.
                Job job = *tx.findJob(jobId);
                job.state = JobState::Started;
                tx.updateJob(job);
                CPPUNIT_ASSERT_EQUAL(std::int64_t(1), tx.countJobsInState(JobState::Started));
                job.message = "halfway";
                tx.updateJob(job);
                Job fresh = makeJob("c");
                tx.insertJob(fresh);
                CPPUNIT_ASSERT_EQUAL(std::int64_t(1), tx.countJobsInState(JobState::Queued));
                CPPUNIT_ASSERT_EQUAL(fresh.id, tx.queuedJobs(10).at(0).id);
            });
            store->transact([&](Tx& tx) {
                CPPUNIT_ASSERT(tx.findTask(first.id)->state == TaskState::Completed);
                CPPUNIT_ASSERT(tx.findTask(second.id)->state == TaskState::Assigned);
                CPPUNIT_ASSERT_EQUAL(TimeMs(77), tx.findTask(second.id)->leaseUntil);
                CPPUNIT_ASSERT(tx.findTask(tx.listTasks(jobId).at(2).id)->state ==
                               TaskState::Waiting);
                const Job job = *tx.findJob(jobId);
                CPPUNIT_ASSERT(job.state == JobState::Started);
                CPPUNIT_ASSERT_EQUAL(std::string("halfway"), job.message);
            });
        });
    }

    // A write that fails when the batch is sent (here: a task of a job that does not exist)
    // fails its transaction, which leaves nothing behind, and the store goes on working.
    void testFailedBatchOfWritesLosesTheTransactionOnly() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const auto jobId = addJob(*store, makeJob("c"));
            Task kept = makeTask(jobId);
            addTask(*store, kept);
            CPPUNIT_ASSERT_THROW(store->transact([&](Tx& tx) {
                Task t = *tx.findTask(kept.id);
                t.state = TaskState::Running;
                tx.updateTask(t);
                Task orphan = makeTask(jobId + 1000);
                tx.insertTask(orphan);
            }),
                                 StoreError);
            store->transact([&](Tx& tx) {
                CPPUNIT_ASSERT(tx.findTask(kept.id)->state == TaskState::Queued);
                CPPUNIT_ASSERT_EQUAL(size_t(1), tx.listTasks(jobId).size());
                Task t = *tx.findTask(kept.id);
                t.state = TaskState::Running;
                tx.updateTask(t);
            });
            store->transact(
                [&](Tx& tx) { CPPUNIT_ASSERT(tx.findTask(kept.id)->state == TaskState::Running); });
        });
    }

    // An UPDATE that must find its row goes out with COMMIT behind it on PostgreSQL, made to
    // fail when it changes none: nothing of the transaction commits, the error is the
    // NotFoundError, and the statements the pipeline skipped work in the next transaction.
    void testAWriteThatFindsNoRowCommitsNothing() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const auto jobId = addJob(*store, makeJob("c"));
            Task kept = makeTask(jobId);
            addTask(*store, kept);
            // A job the store knows (and on PostgreSQL keeps), deleted behind its back.
            Job gone = makeJob("g");
            gone.id = addJob(*store, gone);
            store::SqlQuery(openConnection(url)->session())
                .bind(gone.id)
                .run("DELETE FROM jobs WHERE id = :id");
            std::int64_t added = 0;
            try {
                store->transact([&](Tx& tx) {
                    Job job = makeJob("d");
                    added = tx.insertJob(job);
                    // PostgreSQL answers from the rows it keeps; SQLite reads the table.
                    auto seen = tx.findJob(gone.id);
                    const bool postgres = url.rfind("postgresql", 0) == 0;
                    CPPUNIT_ASSERT_EQUAL(postgres, seen.has_value());
                    if (!seen) throw NotFoundError("job " + std::to_string(gone.id) + " not found");
                    seen->priority = 1;
                    tx.updateJob(*seen);             // the jobs' writes go first, then the tasks'
                    Task t = *tx.findTask(kept.id);  // read: its write joins the pipeline
                    t.state = TaskState::Running;
                    tx.updateTask(t);
                });
                CPPUNIT_FAIL("no NotFoundError");
            } catch (const NotFoundError& e) {
                CPPUNIT_ASSERT_EQUAL("job " + std::to_string(gone.id) + " not found",
                                     std::string(e.what()));
            }
            store->transact([&](Tx& tx) {
                CPPUNIT_ASSERT(!tx.findJob(added));
                CPPUNIT_ASSERT(tx.findTask(kept.id)->state == TaskState::Queued);
            });
            for (int i = 0; i < 3; ++i) {  // on whichever session the pool lends
                store->transact([&](Tx& tx) {
                    Task t = *tx.findTask(kept.id);
                    t.attempt = i + 2;
                    tx.updateTask(t);
                });
            }
            store->transact(
                [&](Tx& tx) { CPPUNIT_ASSERT_EQUAL(4, tx.findTask(kept.id)->attempt); });
        });
    }

    // A transaction that only inserts sends COMMIT with its last writes on PostgreSQL. When
    // one of them fails, nothing of it commits, and the next transaction works.
    void testFailedInsertsCommitNothing() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            std::int64_t jobId = 0;
            CPPUNIT_ASSERT_THROW(store->transact([&](Tx& tx) {
                Job job = makeJob("c");
                jobId = tx.insertJob(job);
                Task good = makeTask(jobId);
                tx.insertTask(good);
                Task orphan = makeTask(jobId + 1000);
                tx.insertTask(orphan);
            }),
                                 StoreError);
            Job kept = makeJob("c");
            store->transact([&](Tx& tx) {
                CPPUNIT_ASSERT(!tx.findJob(jobId));
                tx.insertJob(kept);
            });
            store->read([&](Tx& tx) { CPPUNIT_ASSERT(tx.findJob(kept.id)); });
        });
    }

    // The store keeps every task of a small job once it has read them (prefetchTasks on
    // PostgreSQL, listTasks on both), and then answers a job's queries from what it keeps.
    // Those answers, after changes and new tasks in the same transaction, must be the
    // database's after COMMIT. Jobs of more tasks than prefetchTasks reads whole are asked
    // too, before and after listTasks has read them.
    // PostgreSQL: rows this store committed are answered from memory (RowCache), not read
    // again; a row changed behind its back shows which. A row written and rolled back is
    // read again.
    void testRowsCommittedHereAreNotReadAgain() {
        const std::string url = PostgresFixture::instance().freshDatabase();
        auto store = Store::open(url);
        auto behindDb = openConnection(url);
        soci::session& behind = behindDb->session();
        auto change = [&](const std::string& sql) { store::SqlQuery(behind).run(sql); };
        Job job = makeJob("c");
        job.state = JobState::Started;
        Task task = makeTask(0);
        store->transact([&](Tx& tx) {
            tx.insertJob(job);
            task.jobId = job.id;
            tx.insertTask(task);
        });
        store->transact([&](Tx& tx) {
            CPPUNIT_ASSERT_EQUAL(size_t(1), tx.claimTasks({"work"}, "w1", 1, nowMs(), 1).size());
        });
        const std::string ids = " WHERE id = " + std::to_string(task.id);
        change("UPDATE tasks SET name = 'behind'" + ids);
        change("UPDATE jobs SET message = 'behind' WHERE id = " + std::to_string(job.id));
        store->transact([&](Tx& tx) {
            tx.prefetchTasks({task.id});
            CPPUNIT_ASSERT_EQUAL(std::string("encode"), tx.findTask(task.id)->name);
            CPPUNIT_ASSERT_EQUAL(std::string(""), tx.findJob(job.id)->message);
            auto all = tx.listTasks(job.id);
            CPPUNIT_ASSERT_EQUAL(size_t(1), all.size());
            CPPUNIT_ASSERT_EQUAL(std::string("encode"), all.front().name);
            CPPUNIT_ASSERT(all.front().state == TaskState::Assigned);  // as claimed
        });
        // An UPDATE over the row read from the cache keeps the job there (StoreJobsTest's
        // testUpdateWritesOnlyWhatChanged has the other case: a row written meanwhile).
        store->transact([&](Tx& tx) {
            auto row = tx.findJob(job.id);
            row->stage = 0;
            tx.updateJob(*row);
        });
        store->read([&](Tx& tx) {
            CPPUNIT_ASSERT_EQUAL(std::string(""), tx.findJob(job.id)->message);
            CPPUNIT_ASSERT_EQUAL(0, tx.findJob(job.id)->stage);
        });
        // A task written and rolled back is read again, as the database holds it.
        try {
            store->transact([&](Tx& tx) {
                auto row = tx.findTask(task.id);
                row->state = TaskState::Running;
                tx.updateTask(*row);
                tx.listLogs(job.id, 1);  // its UPDATE is sent before this query
                throw std::runtime_error("rolled back");
            });
            CPPUNIT_FAIL("the transaction should have failed");
        } catch (const std::runtime_error&) {
        }
        store->read([&](Tx& tx) {
            auto row = tx.findTask(task.id);
            CPPUNIT_ASSERT_EQUAL(std::string("behind"), row->name);
            CPPUNIT_ASSERT(row->state == TaskState::Assigned);
        });
    }

    // A job with two queued tasks in queue "work".
    static std::int64_t jobWithTwoTasks(Store& store) {
        const auto jobId = addJob(store, makeJob("c"));
        store.transact([&](Tx& tx) {
            for (int i = 0; i < 2; ++i) {
                Task task = makeTask(jobId);
                tx.insertTask(task);
            }
        });
        return jobId;
    }

    // The dispatcher renews leases beside the engine's batches of results, which hold task
    // rows until they commit. A renewal that waited for one met it in a deadlock (bench/run
    // in session 10): on PostgreSQL it leaves such rows for the next heartbeat.
    void testRenewalSkipsRowsAnotherTransactionHolds() {
        const std::string url = PostgresFixture::instance().freshDatabase();
        auto store = Store::open(url);
        jobWithTwoTasks(*store);
        std::vector<Task> claimed;
        store->transact([&](Tx& tx) { claimed = tx.claimTasks({"work"}, "w1", 2, nowMs(), 100); });
        CPPUNIT_ASSERT_EQUAL(size_t(2), claimed.size());
        auto otherDb = openConnection(url);
        soci::session& other = otherDb->session();
        store::SqlQuery(other).run("BEGIN");
        store::SqlQuery(other)
            .bind(claimed[0].id)
            .run("SELECT id FROM tasks WHERE id = :id FOR UPDATE");
        auto renewal = std::async(std::launch::async, [&] {
            int renewed = -1;
            store->transact([&](Tx& tx) { renewed = tx.renewLeases("w1", idsOf(claimed), 9000); });
            return renewed;
        });
        const bool waited = renewal.wait_for(std::chrono::seconds(5)) != std::future_status::ready;
        store::SqlQuery(other).run("ROLLBACK");
        CPPUNIT_ASSERT_MESSAGE("the renewal waited for the row another transaction holds", !waited);
        CPPUNIT_ASSERT_EQUAL(1, renewal.get());
        store->read([&](Tx& tx) {
            CPPUNIT_ASSERT_EQUAL(TimeMs(100), tx.findTask(claimed[0].id)->leaseUntil);
            CPPUNIT_ASSERT_EQUAL(TimeMs(9000), tx.findTask(claimed[1].id)->leaseUntil);
        });
    }

    // PostgreSQL ends one transaction of a deadlock with an error; the store runs it again,
    // as after a lost connection, instead of failing the engine's whole batch.
    void testDeadlockVictimRunsAgain() {
        const std::string url = PostgresFixture::instance().freshDatabase();
        auto store = Store::open(url);
        const auto jobId = jobWithTwoTasks(*store);
        std::vector<Task> rows;
        store->read([&](Tx& tx) { rows = tx.listTasks(jobId); });
        CPPUNIT_ASSERT_EQUAL(size_t(2), rows.size());
        const std::string a = std::to_string(rows[0].id), b = std::to_string(rows[1].id);
        auto otherDb = openConnection(url);
        soci::session& other = otherDb->session();
        store::SqlQuery(other).run("BEGIN");
        store::SqlQuery(other).run("UPDATE tasks SET message = 'other' WHERE id = " + b);
        std::promise<void> holdsA;
        auto otherDone = std::async(std::launch::async, [&] {
            holdsA.get_future().wait();
            // The store's transaction waits for b by now, and so is the first to find the
            // deadlock (deadlock_timeout after its wait began) and the one to fail.
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            store::SqlQuery(other).run("UPDATE tasks SET message = 'other' WHERE id = " + a);
            store::SqlQuery(other).run("COMMIT");
        });
        int runs = 0;
        store->transact([&](Tx& tx) {
            ++runs;
            // Rows this transaction has not read are written at once, each taking its lock.
            Task first = rows[0], second = rows[1];
            first.message = second.message = "store";
            tx.updateTask(first);
            if (runs == 1) holdsA.set_value();
            tx.updateTask(second);
        });
        otherDone.get();
        CPPUNIT_ASSERT_EQUAL(2, runs);
        store->read([&](Tx& tx) {
            for (const Task& task : tx.listTasks(jobId)) {
                CPPUNIT_ASSERT_EQUAL(std::string("store"), task.message);
            }
        });
    }

    // A fan-out's results each ask whether the stage has open tasks and whether one failed.
    // Rows changed behind the store's back show which answers come from memory.
    void testFanOutStageAnswersFromMemory() {
        const std::string url = PostgresFixture::instance().freshDatabase();
        auto store = Store::open(url);
        auto behindDb = openConnection(url);
        soci::session& behind = behindDb->session();
        auto change = [&](const std::string& sql) { store::SqlQuery(behind).run(sql); };
        const std::vector<TaskState> open = {TaskState::Waiting, TaskState::Queued,
                                             TaskState::Assigned, TaskState::Running};
        const std::vector<TaskState> failed = {TaskState::Failed, TaskState::Incomplete};
        const auto jobId = addJob(*store, makeJob("c"));
        store->transact([&](Tx& tx) {
            for (int i = 0; i < store::SociTx::kWholeJobTasks + 8; ++i) {
                Task task = makeTask(jobId);
                tx.insertTask(task);
            }
        });
        std::vector<Task> claimed;
        store->transact([&](Tx& tx) { claimed = tx.claimTasks({"work"}, "w1", 2, nowMs(), 1); });
        CPPUNIT_ASSERT_EQUAL(size_t(2), claimed.size());
        store->transact([&](Tx& tx) { CPPUNIT_ASSERT(!tx.anyStageTask(jobId, 0, failed)); });
        const std::string ofJob = " WHERE job_id = " + std::to_string(jobId);
        change("UPDATE tasks SET state = " + std::to_string(static_cast<int>(TaskState::Failed)) +
               ofJob);
        store->transact([&](Tx& tx) {
            CPPUNIT_ASSERT_MESSAGE("a claimed task, as kept", tx.anyStageTask(jobId, 0, open));
            CPPUNIT_ASSERT_MESSAGE("the last probe's answer", !tx.anyStageTask(jobId, 0, failed));
            CPPUNIT_ASSERT_MESSAGE("another stage is read", !tx.anyStageTask(jobId, 1, open));
        });
        // The store's own writes change both answers.
        store->transact([&](Tx& tx) {
            for (Task task : claimed) {
                task.state = TaskState::Completed;
                tx.updateTask(task);
            }
        });
        store->transact([&](Tx& tx) {
            CPPUNIT_ASSERT_MESSAGE("no kept task is open: read", !tx.anyStageTask(jobId, 0, open));
            CPPUNIT_ASSERT(!tx.anyStageTask(jobId, 0, failed));
        });
        store->transact([&](Tx& tx) {
            Task task = claimed.front();
            task.state = TaskState::Incomplete;
            tx.updateTask(task);
        });
        store->transact([&](Tx& tx) {
            CPPUNIT_ASSERT_MESSAGE("a task written into them", tx.anyStageTask(jobId, 0, failed));
        });
    }

    void testJobsKeptWholeAnswerAsTheDatabaseDoes() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            // With the later task, jobs of kWholeJobTasks tasks, one more and two more.
            constexpr int kWhole = store::SociTx::kWholeJobTasks;
            for (const int size : {3, kWhole - 1, kWhole, kWhole + 1, kWhole + 8}) {
                const auto jobId = addJob(*store, makeJob("c"));
                std::vector<Task> tasks;
                store->transact([&](Tx& tx) {
                    for (int i = 0; i < size; ++i) {
                        tasks.push_back(makeTask(jobId));
                        tx.insertTask(tasks.back());
                    }
                    Task later = makeTask(jobId);
                    later.stage = 1;
                    later.state = TaskState::Waiting;
                    tx.insertTask(later);
                });
                // The list last: until it, a job not read whole is answered by queries.
                auto answers = [&](Tx& tx) {
                    std::string out;
                    for (int stage : {0, 1}) {
                        for (TaskState s : {TaskState::Queued, TaskState::Running,
                                            TaskState::Completed, TaskState::Waiting}) {
                            out += tx.anyStageTask(jobId, stage, {s}) ? "y" : "n";
                        }
                    }
                    for (TaskState s : {TaskState::Queued, TaskState::Failed, TaskState::Waiting}) {
                        out += "|";
                        for (std::int64_t id : idsOf(tx.tasksInStates(jobId, {s}))) {
                            out += std::to_string(id) + " ";
                        }
                    }
                    out += "|";
                    for (const Task& t : tx.listTasks(jobId)) {
                        out += std::to_string(t.id) + ":" + toString(t.state) + "/" +
                               std::to_string(t.stage) + " ";
                    }
                    return out;
                };
                std::string inside;
                store->transact([&](Tx& tx) {
                    tx.prefetchTasks({tasks[0].id});
                    Task t = *tx.findTask(tasks[0].id);
                    t.state = TaskState::Completed;
                    tx.updateTask(t);
                    Task added = makeTask(jobId);
                    added.stage = 1;
                    tx.insertTask(added);
                    t = *tx.findTask(tasks[1].id);
                    t.state = TaskState::Failed;
                    tx.updateTask(t);
                    const std::string first = answers(tx);  // whole only if small
                    CPPUNIT_ASSERT(first.find(std::to_string(added.id) + ":queued/1") !=
                                   std::string::npos);
                    t = *tx.findTask(tasks[2].id);
                    t.state = TaskState::Running;
                    tx.updateTask(t);
                    for (int i = 3; i < size; ++i) {  // the rest of stage 0 ends
                        t = *tx.findTask(tasks[i].id);
                        t.state = TaskState::Completed;
                        tx.updateTask(t);
                    }
                    Task another = makeTask(jobId);
                    another.stage = 1;
                    another.state = TaskState::Waiting;
                    tx.insertTask(another);
                    inside = answers(tx);  // whole on both backends: listTasks read it all
                });
                std::string after;
                store->transact([&](Tx& tx) { after = answers(tx); });
                CPPUNIT_ASSERT_EQUAL(after, inside);
                CPPUNIT_ASSERT(after.find(":running/0") != std::string::npos);
            }
        });
    }

    // anyStageTask remembers, within a transaction, a task it found and a probe that found
    // nothing. Every kind of write the transaction makes afterwards must be seen: a change
    // kept for later, the same change once written, a claim, an insert, an update of a row
    // the transaction never read. The job is too big to be kept whole, so probes query.
    void testStageProbesFollowTheTransactionsWrites() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const auto jobId = addJob(*store, makeJob("c"));
            std::vector<Task> tasks;
            Task unread = makeTask(jobId);  // as an earlier transaction read it
            unread.state = TaskState::Waiting;
            store->transact([&](Tx& tx) {
                for (int i = 0; i < store::SociTx::kWholeJobTasks + 8; ++i) {
                    tasks.push_back(makeTask(jobId));
                    tx.insertTask(tasks.back());
                }
                tx.insertTask(unread);
            });
            store->transact([&](Tx& tx) {
                const std::vector<TaskState> failed = {TaskState::Failed};
                CPPUNIT_ASSERT(!tx.anyStageTask(jobId, 0, failed));
                Task t = *tx.findTask(tasks[0].id);
                t.state = TaskState::Failed;
                tx.updateTask(t);  // kept for later
                CPPUNIT_ASSERT(tx.anyStageTask(jobId, 0, failed));
                tx.countStates();  // writes what was kept
                CPPUNIT_ASSERT(tx.anyStageTask(jobId, 0, failed));

                const std::vector<TaskState> queued = {TaskState::Queued};
                const std::vector<TaskState> assigned = {TaskState::Assigned};
                CPPUNIT_ASSERT(tx.anyStageTask(jobId, 0, queued));
                CPPUNIT_ASSERT(!tx.anyStageTask(jobId, 0, assigned));
                CPPUNIT_ASSERT_EQUAL(
                    tasks.size() - 1,
                    tx.claimTasks({"work"}, "w1", 100, nowMs(), nowMs() + 1000).size());
                CPPUNIT_ASSERT(!tx.anyStageTask(jobId, 0, queued));
                CPPUNIT_ASSERT(tx.anyStageTask(jobId, 0, assigned));
                CPPUNIT_ASSERT(!tx.anyStageTask(jobId, 1, queued));
                Task later = makeTask(jobId);
                later.stage = 1;
                tx.insertTask(later);
                CPPUNIT_ASSERT(tx.anyStageTask(jobId, 1, queued));

                const std::vector<TaskState> incomplete = {TaskState::Incomplete};
                CPPUNIT_ASSERT(!tx.anyStageTask(jobId, 0, incomplete));
                unread.state = TaskState::Incomplete;
                tx.updateTask(unread);
                CPPUNIT_ASSERT(tx.anyStageTask(jobId, 0, incomplete));
            });
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StoreTasksTest);

}  // namespace te::test
