// The engine on a real store, without a dispatcher, for the engine's tests: jobs as POST /job
// submits them, tasks as the dispatcher would claim them, events as it would hand them over.
#pragma once

#include <Poco/JSON/Parser.h>
#include <cppunit/extensions/HelperMacros.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/engine/EngineImpl.h"
#include "shared/workflow/Workflow.h"
#include "tests/server/store/StoreTestSupport.h"

namespace te::test {

inline const std::string kWorkflows =
    std::string(TE_SOURCE_DIR) + "/tests/fixtures/integration/workflows";

struct Rig {
    std::unique_ptr<Store> store;
    std::unique_ptr<EngineImpl> engine;

    explicit Rig(const std::string& url) : store(Store::open(url)) {
        ServerConfig config;
        config.database = url;
        config.settings["max_jobs"] = "1000";  // every job starts at once (the default is 2)
        config.dispatch.waitForEndpointsTimeoutSec = 0;  // expireEndpointWaits takes every copy
        engine = std::make_unique<EngineImpl>(*store, loadWorkflows(kWorkflows), config);
        engine->initialize();
    }

    // A one-task builtin job, as POST /job would submit it.
    static Submission submission() {
        Submission s;
        s.client = "c";
        s.workflow = "noop";
        s.parameters = new Poco::JSON::Object;
        Poco::JSON::Array::Ptr endpoints = new Poco::JSON::Array;
        endpoints->add("http://127.0.0.1:9/events");  // queued in the outbox, never sent here
        s.parameters->set("rest_endpoints", endpoints);
        s.requestLog = "{}";
        return s;
    }

    // A one-task builtin job whose task the dispatcher has handed to worker w1.
    std::pair<std::int64_t, std::int64_t> assignedJob() {
        const std::int64_t job = engine->submit(submission());
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

}  // namespace te::test
