// The engine's handling of worker events, on a real store (both backends), without a
// dispatcher: the events are what the dispatcher would hand over after a socket drain.
#include <Poco/JSON/Parser.h>
#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>

#include "tests/server/engine/EngineRig.h"

namespace te::test {

class TaskEventsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TaskEventsTest);
    CPPUNIT_TEST(testStartedAndDoneInSeparateBatches);
    CPPUNIT_TEST(testStartedAndDoneInOneBatch);
    CPPUNIT_TEST(testDoneWithoutStarted);
    CPPUNIT_TEST(testLateDoneIsIgnored);
    CPPUNIT_TEST(testPausedJobsTaskComingBackWaits);
    CPPUNIT_TEST(testConcurrentWritesFailAlone);
    CPPUNIT_TEST(testBreakAndPauseReachQueuedTasksInTheDispatcher);
    CPPUNIT_TEST_SUITE_END();

public:
    void testStartedAndDoneInSeparateBatches() {
        forEachBackend([](const std::string& url) {
            Rig rig(url);
            auto [job, task] = rig.assignedJob();
            rig.engine->applyWorkerEvents({Rig::event(WorkerEvent::Kind::Started, task)});
            rig.store->transact(
                [&](Tx& tx) { CPPUNIT_ASSERT(tx.findTask(task)->state == TaskState::Running); });
            rig.engine->applyWorkerEvents({Rig::event(WorkerEvent::Kind::Done, task)});
            rig.checkRecorded(job, task);
        });
    }

    // The usual case under load: the start is recorded by the result, in the same order.
    void testStartedAndDoneInOneBatch() {
        forEachBackend([](const std::string& url) {
            Rig rig(url);
            auto [job, task] = rig.assignedJob();
            auto [job2, task2] = rig.assignedJob();
            rig.engine->applyWorkerEvents({Rig::event(WorkerEvent::Kind::Started, task),
                                           Rig::event(WorkerEvent::Kind::Started, task2),
                                           Rig::event(WorkerEvent::Kind::Done, task),
                                           Rig::event(WorkerEvent::Kind::Done, task2)});
            rig.checkRecorded(job, task);
            rig.checkRecorded(job2, task2);
        });
    }

    void testDoneWithoutStarted() {
        forEachBackend([](const std::string& url) {
            Rig rig(url);
            auto [job, task] = rig.assignedJob();
            rig.engine->applyWorkerEvents({Rig::event(WorkerEvent::Kind::Done, task)});
            rig.checkRecorded(job, task);
        });
    }

    // A second result for a finished task changes nothing and starts nothing.
    void testLateDoneIsIgnored() {
        forEachBackend([](const std::string& url) {
            Rig rig(url);
            auto [job, task] = rig.assignedJob();
            rig.engine->applyWorkerEvents({Rig::event(WorkerEvent::Kind::Done, task)});
            rig.engine->applyWorkerEvents({Rig::event(WorkerEvent::Kind::Started, task),
                                           Rig::event(WorkerEvent::Kind::Done, task)});
            rig.checkRecorded(job, task);
            rig.store->transact([&](Tx& tx) {
                const auto log = tx.listLogs(job, 100);
                CPPUNIT_ASSERT(std::any_of(log.begin(), log.end(), [&](const LogEntry& e) {
                    return e.severity == Severity::Debug &&
                           e.message.find("ignored: already completed") != std::string::npos;
                }));
            });
        });
    }

    // A paused job starts nothing new: its task that comes back from a worker (handed back,
    // or its lease run out) waits for the resume instead of joining the queue.
    void testPausedJobsTaskComingBackWaits() {
        forEachBackend([](const std::string& url) {
            Rig rig(url);
            auto [job, task] = rig.assignedJob();
            JobUpdate pause;
            pause.queueState = JobState::Paused;
            rig.engine->updateJob("c", job, pause);
            auto back = Rig::event(WorkerEvent::Kind::Failed, task);
            back.requeue = true;
            back.message = "not sent";
            rig.engine->applyWorkerEvents({back});
            auto stateOf = [&](std::int64_t id) {
                TaskState state{};
                rig.store->transact([&](Tx& tx) { state = tx.findTask(id)->state; });
                return state;
            };
            CPPUNIT_ASSERT(stateOf(task) == TaskState::Waiting);

            // The same for a task whose worker went silent.
            const std::int64_t other = rig.engine->submit(Rig::submission());
            std::int64_t silent = 0;
            rig.store->transact([&](Tx& tx) {
                silent = tx.claimTasks({"work"}, "w1", 1, nowMs(), nowMs() - 1).at(0).id;
            });
            rig.engine->updateJob("c", other, pause);
            CPPUNIT_ASSERT_EQUAL(1, rig.engine->expireLeases());
            CPPUNIT_ASSERT(stateOf(silent) == TaskState::Waiting);

            JobUpdate resume;
            resume.queueState = JobState::Queued;
            rig.engine->updateJob("c", job, resume);
            CPPUNIT_ASSERT(stateOf(task) == TaskState::Queued);
        });
    }

    // A claim may take a queued task between the engine's read of a job's tasks and its
    // write (PostgreSQL's claims commit on connections of their own). So breaking a job has
    // the dispatcher stop its queued tasks as well as those it sent, and pausing one has it
    // give back its queued tasks as well as those in a reserve.
    void testBreakAndPauseReachQueuedTasksInTheDispatcher() {
        forEachBackend([](const std::string& url) {
            Rig rig(url);
            std::vector<std::int64_t> cancelled, recalled;
            EngineImpl::Hooks hooks;
            hooks.cancelTask = [&](std::int64_t id) { cancelled.push_back(id); };
            hooks.recallTask = [&](std::int64_t id) { recalled.push_back(id); };
            rig.engine->setHooks(hooks);
            auto queuedTask = [&](std::int64_t job) {
                std::vector<Task> tasks;
                rig.store->transact([&](Tx& tx) { tasks = tx.listTasks(job); });
                CPPUNIT_ASSERT_EQUAL(size_t(1), tasks.size());
                CPPUNIT_ASSERT(tasks[0].state == TaskState::Queued);
                return tasks[0].id;
            };
            // A new job put into `state` by its client; returns its queued task.
            auto queuedTaskOfJobSetTo = [&](JobState state) {
                const std::int64_t job = rig.engine->submit(Rig::submission());
                const std::int64_t task = queuedTask(job);
                JobUpdate update;
                update.queueState = state;
                rig.engine->updateJob("c", job, update);
                return task;
            };
            const std::int64_t pausedTask = queuedTaskOfJobSetTo(JobState::Paused);
            CPPUNIT_ASSERT(std::vector<std::int64_t>({pausedTask}) == recalled);
            const std::int64_t brokenTask = queuedTaskOfJobSetTo(JobState::Broken);
            CPPUNIT_ASSERT(std::vector<std::int64_t>({brokenTask}) == cancelled);

            // A broadcast's copy for a worker that never took it within the wait: incomplete,
            // and stopped in the dispatcher in case its worker claimed it meanwhile.
            cancelled.clear();
            hooks.liveWorkers = [] {
                return std::vector<WorkerSnapshot>{{"ghost", {"work"}, 1, 0}};
            };
            rig.engine->setHooks(hooks);
            Submission everywhere = Rig::submission();
            everywhere.workflow = "broadcast";
            everywhere.parameters->set("log", "/dev/null");
            const std::int64_t copy = queuedTask(rig.engine->submit(everywhere));
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            CPPUNIT_ASSERT_EQUAL(1, rig.engine->expireEndpointWaits());
            CPPUNIT_ASSERT(std::vector<std::int64_t>({copy}) == cancelled);
        });
    }

    // Submissions from several threads and worker results at the same time share
    // transactions (the group commit). Each caller still gets its own answer, and a write
    // that fails (here the dispatcher's claim throws) fails alone: the others of its batch
    // are stored, its own results are not.
    void testConcurrentWritesFailAlone() {
        forEachBackend([](const std::string& url) {
            Rig rig(url);
            std::vector<std::pair<std::int64_t, std::int64_t>> assigned;
            for (int i = 0; i < 10; ++i) assigned.push_back(rig.assignedJob());
            constexpr int kThreads = 4, kEach = 25;
            std::vector<std::vector<std::int64_t>> ids(kThreads);
            std::atomic<int> refused{0};
            std::vector<std::thread> threads;
            for (int t = 0; t < kThreads; ++t) {
                threads.emplace_back([&, t] {
                    for (int i = 0; i < kEach; ++i) {
                        try {
                            ids[t].push_back(rig.engine->submit(Rig::submission()));
                        } catch (const std::exception&) {
                            ++refused;
                        }
                    }
                });
            }
            int thrown = 0, claims = 0;
            for (const auto& [job, task] : assigned) {
                try {
                    rig.engine->applyWorkerEvents(
                        {Rig::event(WorkerEvent::Kind::Done, task)},
                        [](Tx&, bool) { throw std::runtime_error("claim broke"); });
                } catch (const std::runtime_error&) {
                    ++thrown;
                }
                rig.engine->applyWorkerEvents({Rig::event(WorkerEvent::Kind::Done, task)},
                                              [&](Tx&, bool) { ++claims; });
            }
            for (auto& t : threads) t.join();
            CPPUNIT_ASSERT_EQUAL(0, refused.load());
            CPPUNIT_ASSERT_EQUAL(10, thrown);
            CPPUNIT_ASSERT(claims >= 10);
            std::set<std::int64_t> distinct;
            for (const auto& list : ids) distinct.insert(list.begin(), list.end());
            CPPUNIT_ASSERT_EQUAL(size_t(kThreads * kEach), distinct.size());
            rig.store->transact([&](Tx& tx) {
                for (std::int64_t id : distinct) {
                    auto job = tx.findJob(id);
                    CPPUNIT_ASSERT(job);
                    CPPUNIT_ASSERT(job->state == JobState::Started);  // admitted with its batch
                    CPPUNIT_ASSERT_EQUAL(size_t(1), tx.listTasks(id).size());
                }
            });
            // Exactly one start and one completion each: the failed attempt left nothing.
            for (const auto& [job, task] : assigned) rig.checkRecorded(job, task);
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TaskEventsTest);

}  // namespace te::test
