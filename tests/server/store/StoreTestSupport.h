#pragma once

#include <cppunit/Exception.h>
#include <cppunit/extensions/HelperMacros.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/store/SqlQuery.h"
#include "server/store/Store.h"
#include "tests/support/PostgresFixture.h"
#include "tests/support/TestUtil.h"

namespace te::test {

// The conformance suite's driver: runs body once per backend (a fresh SQLite file and a fresh
// PostgreSQL database), so every test states the contract once for both. A failure names
// the backend it happened on.
inline void forEachBackend(const std::function<void(const std::string& url)>& body) {
    TempDir dir;
    for (const std::string& url : backendUrls(dir.path())) {
        const std::string backend = url.substr(0, url.find(':'));
        try {
            body(url);
        } catch (const CppUnit::Exception& e) {
            CppUnit::Message message = e.message();
            message.addDetail("backend: " + backend);
            throw CppUnit::Exception(message, e.sourceLine());
        } catch (const std::exception& e) {
            CPPUNIT_FAIL("backend " + backend + ": unexpected exception: " + e.what());
        }
    }
}

inline Job makeJob(const std::string& client, int priority = 5) {
    Job job;
    job.client = client;
    job.workflow = "transcode";
    job.priority = priority;
    job.parameters = R"({"content_id":"c1"})";
    job.headers = "{}";
    job.context = "{}";
    return job;
}

inline Task makeTask(std::int64_t jobId, const std::string& queue = "work", int priority = 5) {
    Task task;
    task.jobId = jobId;
    task.name = "encode";
    task.state = TaskState::Queued;
    task.queue = queue;
    task.priority = priority;
    task.command = "/bin/true";
    task.args = "[]";
    task.env = "{}";
    task.inputs = "{}";
    return task;
}

// A Connection of its own on the database of a store URL, beside any store open on it.
std::unique_ptr<store::Connection> openConnection(const std::string& url);

// SQLite's EXPLAIN QUERY PLAN of sql: each step's detail, followed by "; ".
std::string sqlitePlan(soci::session& db, const std::string& sql);

using Ids = std::vector<std::int64_t>;

// The ids of jobs or tasks, in their order.
template <typename Rows>
Ids idsOf(const Rows& rows) {
    Ids ids;
    for (const auto& row : rows) ids.push_back(row.id);
    return ids;
}

// Inserts a job in its own transaction; sets job.id and returns it.
inline std::int64_t addJob(Store& store, Job& job) {
    store.transact([&](Tx& tx) { tx.insertJob(job); });
    return job.id;
}
inline std::int64_t addJob(Store& store, Job&& job) { return addJob(store, job); }

}  // namespace te::test
