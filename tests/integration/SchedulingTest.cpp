// Scheduler, admission and settings end to end: a real server, real worker processes, and a
// real HTTP semaphore on 127.0.0.1.
#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <thread>

#include "server/store/Store.h"
#include "shared/util/Json.h"
#include "tests/integration/CallbackReceiver.h"
#include "tests/integration/Cluster.h"

using namespace te;
using namespace te::test;
using namespace std::chrono_literals;

namespace {

// run_at in the reference's form, yyyy-MM-ddTHH:mm:ss.fff (UTC, no zone letter).
std::string runAt(TimeMs t) {
    std::string s = formatIso(t);
    if (!s.empty() && s.back() == 'Z') s.pop_back();
    return s;
}

Cluster::Options options(int maxJobs) {
    Cluster::Options o;
    o.settings = {
        {"max_jobs", std::to_string(maxJobs)}, {"schedule_interval", "1"}, {"retry_delay", "1"}};
    return o;
}

void startOneWorker(Cluster& c, int slots = 4) {
    c.startServer();
    c.startWorker("w", "work", slots);
    CPPUNIT_ASSERT(waitUntil([&] { return c.workerConnected("w"); }, 20s));
}

std::string holdParams(const std::string& gate) { return "{\"gate\": \"" + gate + "\"}"; }

std::vector<std::int64_t> ids(const Poco::JSON::Array::Ptr& jobs) {
    std::vector<std::int64_t> out;
    for (size_t i = 0; i < jobs->size(); ++i) {
        out.push_back(jobs->getObject(i)->getValue<std::int64_t>("id"));
    }
    return out;
}

Poco::JSON::Object::Ptr dashboard(Cluster& c) {
    auto r = c.request("GET", "/dashboard");
    CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
    return r.object();
}

Job storedJob(Cluster& c, std::int64_t id) {
    Job j;
    c.server().store().transact([&](Tx& tx) { j = tx.findJob(id).value(); });
    return j;
}

void putSchedule(Cluster& c, const std::string& name, bool active) {
    auto r = c.request(
        "PUT", "/scheduler",
        "{\"schedule\": \"" + name + "\", \"active\": " + (active ? "true" : "false") + "}");
    CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
    auto listed = r.object()->getArray("schedules");
    bool found = false;
    for (size_t i = 0; i < listed->size(); ++i) found |= listed->getElement<std::string>(i) == name;
    CPPUNIT_ASSERT_MESSAGE(r.body, found == active);
}

Poco::JSON::Object::Ptr activeSchedules(Cluster& c) {
    auto r = c.request("GET", "/schedules");
    CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
    CPPUNIT_ASSERT_EQUAL(std::string("ok"), str(r.object(), "result"));
    return r.object()->getObject("schedules");
}

}  // namespace

class SchedulingTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SchedulingTest);
    CPPUNIT_TEST(testMaxJobsOneNeverRunsTwoJobsAtOnce);
    CPPUNIT_TEST(testPriorityJobSubmittedLastStartsFirst);
    CPPUNIT_TEST(testPriorityJobTakesReservedSlotWhenNormalSlotsAreFull);
    CPPUNIT_TEST(testFutureRunAtWaitsUntilMovedIntoThePast);
    CPPUNIT_TEST(testDeactivatedQueueScheduledJobsHoldsScheduledJobs);
    CPPUNIT_TEST(testSemaphoreKeepsJobPendingUntil2xx);
    CPPUNIT_TEST(testSlowSemaphoreDoesNotStallOtherSchedules);
    CPPUNIT_TEST(testSettingsValidateApplyAtOnceAndPersist);
    CPPUNIT_TEST_SUITE_END();

public:
    void testMaxJobsOneNeverRunsTwoJobsAtOnce() {
        Cluster c(options(1));
        startOneWorker(c);
        std::vector<std::int64_t> jobs;
        for (int i = 0; i < 6; ++i) jobs.push_back(c.submit("sleep", "{\"seconds\": \"0.3\"}"));
        std::int64_t maxStore = 0, maxDashboard = 0;
        int samples = 0;
        bool done = waitUntil(
            [&] {
                ++samples;
                c.server().store().transact([&](Tx& tx) {
                    maxStore = std::max(maxStore, tx.countJobsByState()[JobState::Started]);
                });
                auto started = dashboard(c)->getArray("started");
                maxDashboard = std::max<std::int64_t>(maxDashboard, started->size());
                c.server().store().transact([&](Tx& tx) {
                    maxStore = std::max(maxStore, tx.countJobsByState()[JobState::Started]);
                });
                for (auto id : jobs) {
                    if (storedJob(c, id).state != JobState::Completed) return false;
                }
                return true;
            },
            60s);
        CPPUNIT_ASSERT_MESSAGE("not every job finished", done);
        CPPUNIT_ASSERT_MESSAGE("too few samples: " + std::to_string(samples), samples > 20);
        CPPUNIT_ASSERT_EQUAL(std::int64_t(1), maxStore);
        CPPUNIT_ASSERT_EQUAL(std::int64_t(1), maxDashboard);
        // Between samples too: no job started before the previous one finished.
        std::vector<Job> stored;
        for (auto id : jobs) {
            stored.push_back(storedJob(c, id));
            CPPUNIT_ASSERT(!stored.back().failed);
        }
        std::sort(stored.begin(), stored.end(),
                  [](const Job& a, const Job& b) { return a.startedAt < b.startedAt; });
        for (size_t i = 1; i < stored.size(); ++i) {
            CPPUNIT_ASSERT_MESSAGE("job " + std::to_string(stored[i].id) + " started while job " +
                                       std::to_string(stored[i - 1].id) + " ran",
                                   stored[i].startedAt >= stored[i - 1].finishedAt);
        }
    }

    void testPriorityJobSubmittedLastStartsFirst() {
        Cluster c(options(1));
        startOneWorker(c);
        std::string gate = c.dir().file("gate");
        std::int64_t holder = c.submit("hold", holdParams(gate));
        CPPUNIT_ASSERT(c.waitState(holder, "started", 20s));
        std::vector<std::int64_t> normal;
        for (int i = 0; i < 3; ++i) normal.push_back(c.submit("sleep", "{\"seconds\": \"0.1\"}"));
        std::int64_t urgent = c.submit("sleep", "{\"seconds\": \"0.1\"}", "\"priority\": 1");

        // The queue order shows in position / top_of_queue and in the dashboard.
        auto u = c.job(urgent);
        CPPUNIT_ASSERT_EQUAL(std::string("queued"), str(u, "queue_state"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t(1), u->getValue<std::int64_t>("position"));
        CPPUNIT_ASSERT(u->getValue<bool>("top_of_queue"));
        for (int i = 0; i < 3; ++i) {
            auto j = c.job(normal[i]);
            CPPUNIT_ASSERT_EQUAL(std::string("queued"), str(j, "queue_state"));
            CPPUNIT_ASSERT_EQUAL(std::int64_t(i + 2), j->getValue<std::int64_t>("position"));
            CPPUNIT_ASSERT(!j->getValue<bool>("top_of_queue"));
        }
        auto d = dashboard(c);
        CPPUNIT_ASSERT_EQUAL(1, d->getValue<int>("max_jobs"));
        CPPUNIT_ASSERT_EQUAL(0, d->getValue<int>("priority_slots"));
        CPPUNIT_ASSERT(!str(d, "version").empty());
        CPPUNIT_ASSERT(ids(d->getArray("started")) == std::vector<std::int64_t>{holder});
        std::vector<std::int64_t> order{urgent, normal[0], normal[1], normal[2]};
        CPPUNIT_ASSERT(ids(d->getArray("queued")) == order);
        CPPUNIT_ASSERT_EQUAL(size_t(0), d->getArray("scheduled")->size());
        auto first = d->getArray("queued")->getObject(0);
        for (const char* key : {"id", "client", "workflow", "priority", "position", "created_at",
                                "updated_at", "queue_state", "failed", "run_at"}) {
            CPPUNIT_ASSERT_MESSAGE(key, first->has(key));
        }
        CPPUNIT_ASSERT_EQUAL(1, first->getValue<int>("priority"));

        writeFile(gate, "open");
        for (auto id : order) CPPUNIT_ASSERT(!c.waitFinished(id)->getValue<bool>("failed"));
        // Admission order: the urgent job, then the others in submission order.
        for (size_t i = 1; i < order.size(); ++i) {
            CPPUNIT_ASSERT(storedJob(c, order[i]).startedAt >=
                           storedJob(c, order[i - 1]).finishedAt);
        }
    }

    void testPriorityJobTakesReservedSlotWhenNormalSlotsAreFull() {
        Cluster c(options(2));
        startOneWorker(c);
        c.setSetting("priority_slots", "1");
        std::string gate = c.dir().file("gate");
        std::int64_t normal1 = c.submit("hold", holdParams(gate));
        CPPUNIT_ASSERT(c.waitState(normal1, "started", 20s));
        std::int64_t normal2 = c.submit("hold", holdParams(gate));
        // Threshold 5: priority 5 is not a priority job, so the reserved slot stays free for
        // longer than an admission tick.
        std::int64_t normal3 = c.submit("hold", holdParams(gate), "\"priority\": 5");
        std::this_thread::sleep_for(1500ms);
        CPPUNIT_ASSERT_EQUAL(std::string("queued"), str(c.job(normal2), "queue_state"));
        CPPUNIT_ASSERT_EQUAL(std::string("queued"), str(c.job(normal3), "queue_state"));
        std::int64_t urgent = c.submit("hold", holdParams(gate), "\"priority\": 4");
        CPPUNIT_ASSERT(c.waitState(urgent, "started", 10s));
        auto d = dashboard(c);
        CPPUNIT_ASSERT_EQUAL(2, d->getValue<int>("max_jobs"));
        CPPUNIT_ASSERT_EQUAL(1, d->getValue<int>("priority_slots"));
        CPPUNIT_ASSERT_EQUAL(size_t(2), d->getArray("started")->size());
        CPPUNIT_ASSERT((ids(d->getArray("queued")) == std::vector<std::int64_t>{normal2, normal3}));
        // max_jobs is the ceiling for priority jobs too.
        std::int64_t urgent2 = c.submit("hold", holdParams(gate), "\"priority\": 0");
        std::this_thread::sleep_for(1500ms);
        CPPUNIT_ASSERT_EQUAL(std::string("queued"), str(c.job(urgent2), "queue_state"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t(1), c.job(urgent2)->getValue<std::int64_t>("position"));

        writeFile(gate, "open");
        for (auto id : {normal1, normal2, normal3, urgent, urgent2}) {
            CPPUNIT_ASSERT(!c.waitFinished(id)->getValue<bool>("failed"));
        }
    }

    void testFutureRunAtWaitsUntilMovedIntoThePast() {
        Cluster c(options(5));
        startOneWorker(c);
        std::int64_t later =
            c.submit("noop", "{}", "\"run_at\": \"" + runAt(nowMs() + 3600000) + "\"");
        // A control job due in 2 s: once it has run, queue_scheduled_jobs has had its chance.
        std::int64_t soon = c.submit("noop", "{}", "\"run_at\": \"" + runAt(nowMs() + 2000) + "\"");
        CPPUNIT_ASSERT_EQUAL(std::string("scheduled"), str(c.job(later), "queue_state"));
        CPPUNIT_ASSERT_EQUAL(std::string("scheduled"), str(c.job(soon), "queue_state"));
        auto d = dashboard(c);
        CPPUNIT_ASSERT((ids(d->getArray("scheduled")) == std::vector<std::int64_t>{later, soon} ||
                        ids(d->getArray("scheduled")) == std::vector<std::int64_t>{soon, later}));
        CPPUNIT_ASSERT_EQUAL(std::string("scheduled"),
                             str(d->getArray("scheduled")->getObject(0), "queue_state"));
        CPPUNIT_ASSERT(!c.waitFinished(soon, 20s)->getValue<bool>("failed"));
        CPPUNIT_ASSERT(c.logText(soon).find("run_at reached") != std::string::npos);
        std::this_thread::sleep_for(1200ms);  // one more round of the 1 s schedule
        CPPUNIT_ASSERT_EQUAL(std::string("scheduled"), str(c.job(later), "queue_state"));
        CPPUNIT_ASSERT_EQUAL(size_t(0), c.tasks(later)->size());

        auto r = c.request("PUT", "/jobs/" + std::to_string(later),
                           "{\"run_at\": \"" + runAt(nowMs() - 60000) + "\"}");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
        CPPUNIT_ASSERT(str(r.object(), "result").find("run_at") != std::string::npos);
        auto job = c.waitFinished(later, 15s);
        CPPUNIT_ASSERT(!job->getValue<bool>("failed"));
    }

    void testDeactivatedQueueScheduledJobsHoldsScheduledJobs() {
        Cluster c(options(5));
        startOneWorker(c);
        auto active = activeSchedules(c);
        CPPUNIT_ASSERT(active->has("queue_scheduled_jobs"));
        auto q = active->getObject("queue_scheduled_jobs");
        CPPUNIT_ASSERT_EQUAL(std::string("QueueJobs"), str(q, "class"));
        CPPUNIT_ASSERT_EQUAL(std::string("scheduler"), str(q, "queue"));
        CPPUNIT_ASSERT(!str(q, "description").empty());
        auto every = q->getArray("every");
        CPPUNIT_ASSERT_EQUAL(size_t(2), every->size());
        CPPUNIT_ASSERT_EQUAL(1, every->getElement<int>(0));  // schedule_interval 1
        CPPUNIT_ASSERT(every->getObject(1)->has("first_in"));

        putSchedule(c, "queue_scheduled_jobs", false);
        active = activeSchedules(c);
        CPPUNIT_ASSERT(!active->has("queue_scheduled_jobs"));
        CPPUNIT_ASSERT(active->has("check_semaphores"));
        auto r = c.request("PUT", "/scheduler",
                           "{\"schedule\": \"no_such_schedule\", \"active\": true}");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 400, r.status);

        std::int64_t id = c.submit("noop", "{}", "\"run_at\": \"" + runAt(nowMs() + 1000) + "\"");
        CPPUNIT_ASSERT_EQUAL(std::string("scheduled"), str(c.job(id), "queue_state"));
        // Past its run_at and past the schedule's first_in (5 s) with rounds to spare.
        std::this_thread::sleep_for(7s);
        CPPUNIT_ASSERT_EQUAL(std::string("scheduled"), str(c.job(id), "queue_state"));

        putSchedule(c, "queue_scheduled_jobs", true);
        CPPUNIT_ASSERT(activeSchedules(c)->has("queue_scheduled_jobs"));
        auto job = c.waitFinished(id, 15s);
        CPPUNIT_ASSERT(!job->getValue<bool>("failed"));
        CPPUNIT_ASSERT(c.logText(id).find("run_at reached") != std::string::npos);
    }

    void testSemaphoreKeepsJobPendingUntil2xx() {
        CallbackReceiver semaphore;
        semaphore.failNext(3, 503);
        semaphore.start();
        Cluster c(options(5));
        startOneWorker(c);
        std::int64_t id =
            c.submit("noop", "{}", "\"semaphore_url\": \"" + semaphore.url("/ready?job=1") + "\"");
        CPPUNIT_ASSERT_EQUAL(std::string("pending"), str(c.job(id), "queue_state"));
        // While the semaphore has answered only 503s the job stays pending.
        CPPUNIT_ASSERT(waitUntil([&] { return semaphore.requests().size() >= 1; }, 20s));
        CPPUNIT_ASSERT(semaphore.requests().size() < 3);
        CPPUNIT_ASSERT_EQUAL(std::string("pending"), str(c.job(id), "queue_state"));
        CPPUNIT_ASSERT_EQUAL(size_t(0), c.tasks(id)->size());
        CPPUNIT_ASSERT(waitUntil(
            [&] { return c.logText(id).find("waiting for semaphore") != std::string::npos; }, 5s));
        std::string log = c.logText(id);
        CPPUNIT_ASSERT_MESSAGE(log, log.find("HTTP 503") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(log, log.find(semaphore.url("/ready?job=1")) != std::string::npos);

        auto job = c.waitFinished(id, 30s);
        CPPUNIT_ASSERT(!job->getValue<bool>("failed"));
        auto requests = semaphore.requests();
        CPPUNIT_ASSERT(requests.size() >= 4);
        for (int i = 0; i < 3; ++i) CPPUNIT_ASSERT_EQUAL(503, requests[i].status);
        CPPUNIT_ASSERT_EQUAL(200, requests[3].status);
        CPPUNIT_ASSERT_EQUAL(std::string("GET"), requests[3].method);
        CPPUNIT_ASSERT_EQUAL(std::string("/ready?job=1"), requests[3].path);
        CPPUNIT_ASSERT(c.logText(id).find("semaphore answered 200") != std::string::npos);
    }

    void testSlowSemaphoreDoesNotStallOtherSchedules() {
        // Three jobs wait on a semaphore that takes 3 s to say 503: a round of check_semaphores
        // takes 9 s. Scheduled jobs must still be queued on time meanwhile.
        CallbackReceiver semaphore;
        semaphore.failNext(1000, 503);
        semaphore.setDelay(3s);
        semaphore.start();
        Cluster c(options(5));
        startOneWorker(c);
        for (int i = 0; i < 3; ++i) {
            std::int64_t id =
                c.submit("noop", "{}", "\"semaphore_url\": \"" + semaphore.url("/slow") + "\"");
            CPPUNIT_ASSERT_EQUAL(std::string("pending"), str(c.job(id), "queue_state"));
        }
        // check_semaphores and queue_scheduled_jobs both first run 5 s after the start; once the
        // semaphore has been asked, a round is under way.
        CPPUNIT_ASSERT(waitUntil([&] { return semaphore.requests().size() >= 1; }, 20s));
        auto begin = std::chrono::steady_clock::now();
        std::int64_t soon = c.submit("noop", "{}", "\"run_at\": \"" + runAt(nowMs() + 500) + "\"");
        CPPUNIT_ASSERT(!c.waitFinished(soon, 20s)->getValue<bool>("failed"));
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - begin);
        CPPUNIT_ASSERT_MESSAGE("the scheduled job waited " + std::to_string(took.count()) + " ms",
                               took < 4500ms);
    }

    void testSettingsValidateApplyAtOnceAndPersist() {
        Cluster c(options(1));
        startOneWorker(c);
        for (const char* bad : {"{\"name\": \"max_jobs\", \"setting\": \"-1\"}",
                                "{\"name\": \"max_jobs\", \"setting\": -3}",
                                "{\"name\": \"max_jobs\", \"setting\": \"two\"}",
                                "{\"name\": \"priority_slots\", \"setting\": \"-1\"}",
                                "{\"name\": \"schedule_interval\", \"setting\": \"0\"}"}) {
            auto r = c.request("POST", "/settings", bad);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(std::string(bad) + " -> " + r.body, 400, r.status);
            CPPUNIT_ASSERT(r.object()->has("error"));
        }
        CPPUNIT_ASSERT_EQUAL(1, dashboard(c)->getValue<int>("max_jobs"));

        // No admission tick can help: only the setting itself may start the queued job.
        putSchedule(c, "admit_jobs", false);
        std::string gate = c.dir().file("gate");
        std::int64_t a = c.submit("hold", holdParams(gate));
        CPPUNIT_ASSERT(c.waitState(a, "started", 20s));
        std::int64_t b = c.submit("hold", holdParams(gate));
        std::this_thread::sleep_for(1200ms);
        CPPUNIT_ASSERT_EQUAL(std::string("queued"), str(c.job(b), "queue_state"));
        auto r = c.request("POST", "/settings", "{\"name\": \"max_jobs\", \"setting\": \"2\"}");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), str(r.object(), "result"));
        CPPUNIT_ASSERT_EQUAL(std::string("max_jobs setting created/updated"),
                             str(r.object(), "message"));
        CPPUNIT_ASSERT_EQUAL(std::string("started"), str(c.job(b), "queue_state"));
        auto health = c.request("GET", "/health");
        CPPUNIT_ASSERT_EQUAL(2, health.object()->getObject("jobs")->getValue<int>("max_jobs"));
        writeFile(gate, "open");
        c.waitFinished(a);
        c.waitFinished(b);

        // The same SQLite file, the same config (max_jobs 1): the stored value wins.
        c.stopServer();
        c.startServer();
        CPPUNIT_ASSERT(waitUntil([&] { return c.workerConnected("w"); }, 20s));
        CPPUNIT_ASSERT_EQUAL(2, dashboard(c)->getValue<int>("max_jobs"));
        CPPUNIT_ASSERT(!activeSchedules(c)->has("admit_jobs"));
        std::string gate2 = c.dir().file("gate2");
        std::int64_t x = c.submit("hold", holdParams(gate2));
        std::int64_t y = c.submit("hold", holdParams(gate2));
        CPPUNIT_ASSERT(c.waitState(x, "started", 10s));
        CPPUNIT_ASSERT(c.waitState(y, "started", 10s));
        writeFile(gate2, "open");
        CPPUNIT_ASSERT(!c.waitFinished(x)->getValue<bool>("failed"));
        CPPUNIT_ASSERT(!c.waitFinished(y)->getValue<bool>("failed"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SchedulingTest);
