// The engine's handling of worker events, on a real store (both backends), without a
// dispatcher: the events are what the dispatcher would hand over after a socket drain.
#include <Poco/JSON/Parser.h>
#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>

#include "server/engine/EngineImpl.h"
#include "shared/workflow/Workflow.h"
#include "tests/server/store/StoreTestSupport.h"

namespace te::test {
namespace {

const std::string kWorkflows = std::string(TE_SOURCE_DIR) + "/tests/fixtures/integration/workflows";

struct Rig {
    std::unique_ptr<Store> store;
    std::unique_ptr<EngineImpl> engine;

    explicit Rig(const std::string& url) : store(Store::open(url)) {
        ServerConfig config;
        config.database = url;
        engine = std::make_unique<EngineImpl>(*store, loadWorkflows(kWorkflows), config);
        engine->initialize();
    }

    // A one-task builtin job whose task the dispatcher has handed to worker w1.
    std::pair<std::int64_t, std::int64_t> assignedJob() {
        Submission s;
        s.client = "c";
        s.workflow = "noop";
        s.parameters = new Poco::JSON::Object;
        Poco::JSON::Array::Ptr endpoints = new Poco::JSON::Array;
        endpoints->add("http://127.0.0.1:9/events");  // queued in the outbox, never sent here
        s.parameters->set("rest_endpoints", endpoints);
        s.requestLog = "{}";
        const std::int64_t job = engine->submit(s);
        std::int64_t task = 0;
        store->transact([&](Tx& tx) {
            auto claimed = tx.claimTasks({"work"}, "w1", 1, nowMs(), nowMs() + 60000);
            CPPUNIT_ASSERT_EQUAL(size_t(1), claimed.size());
            CPPUNIT_ASSERT_EQUAL(job, claimed[0].jobId);
            task = claimed[0].id;
        });
        return {job, task};
    }

    static WorkerEvent event(WorkerEvent::Kind kind, std::int64_t task) {
        WorkerEvent e;
        e.kind = kind;
        e.taskId = task;
        e.worker = "w1";
        return e;
    }

    // "started on w1" then "completed successfully", the start and complete callbacks, the
    // task completed with a start time, whatever way the events came.
    void checkRecorded(std::int64_t job, std::int64_t task) {
        store->transact([&](Tx& tx) {
            std::vector<std::string> taskLog;
            for (const auto& e : tx.listLogs(job, 100)) {
                if (e.taskId == task && e.severity != Severity::Debug) {
                    taskLog.push_back(e.message);
                }
            }
            CPPUNIT_ASSERT_EQUAL(size_t(2), taskLog.size());
            CPPUNIT_ASSERT_EQUAL(std::string("'noop' started on w1"), taskLog[0]);
            CPPUNIT_ASSERT_EQUAL(std::string("'noop' completed successfully"), taskLog[1]);
            std::vector<std::string> events;
            for (const auto& cb : tx.listCallbacks(job)) {
                if (cb.taskId != task) continue;
                Poco::JSON::Parser parser;
                auto body = parser.parse(cb.body).extract<Poco::JSON::Object::Ptr>();
                events.push_back(body->getValue<std::string>("event"));
            }
            CPPUNIT_ASSERT_EQUAL(size_t(2), events.size());
            CPPUNIT_ASSERT_EQUAL(std::string("start"), events[0]);
            CPPUNIT_ASSERT_EQUAL(std::string("complete"), events[1]);
            auto t = tx.findTask(task);
            CPPUNIT_ASSERT(t);
            CPPUNIT_ASSERT(t->state == TaskState::Completed);
            CPPUNIT_ASSERT(t->startedAt > 0);
            CPPUNIT_ASSERT(t->finishedAt >= t->startedAt);
            CPPUNIT_ASSERT(tx.findJob(job)->state == JobState::Completed);
        });
    }
};

}  // namespace

class TaskEventsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TaskEventsTest);
    CPPUNIT_TEST(testStartedAndDoneInSeparateBatches);
    CPPUNIT_TEST(testStartedAndDoneInOneBatch);
    CPPUNIT_TEST(testDoneWithoutStarted);
    CPPUNIT_TEST(testLateDoneIsIgnored);
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
};

CPPUNIT_TEST_SUITE_REGISTRATION(TaskEventsTest);

}  // namespace te::test
