// Callbacks end to end: real worker processes run the tasks, the server POSTs every event to
// real HTTP receivers on 127.0.0.1 (tests/integration/CallbackReceiver.h).
#include <cppunit/extensions/HelperMacros.h>

#include <regex>
#include <thread>

#include "shared/util/Json.h"
#include "tests/integration/CallbackReceiver.h"
#include "tests/integration/Cluster.h"

using namespace te;
using namespace te::test;
using namespace std::chrono_literals;

namespace {

const std::string kWorkflowId = "52ec321b-8da3-4f5f-9cd3-749789577cd3";

Cluster::Options options() {
    Cluster::Options o;
    ClientConfig client;
    client.name = "test";
    client.apiKey = "secret";
    client.callbackHeaders = {{"Workflow-Id", kWorkflowId}};
    o.clients = {client};
    return o;
}

void startOneWorker(Cluster& c) {
    c.startServer();
    c.startWorker("w", "work", 4);
    CPPUNIT_ASSERT(waitUntil([&] { return c.workerConnected("w"); }, 20s));
}

std::string params(const std::vector<std::string>& endpoints, const std::string& extra = "") {
    std::string list;
    for (const auto& e : endpoints) list += (list.empty() ? "\"" : ", \"") + e + "\"";
    return "{\"content_id\": \"content-7\", \"rest_endpoints\": [" + list + "]" +
           (extra.empty() ? "" : ", " + extra) + "}";
}

// The delivered events of one job, in arrival order.
std::vector<Poco::JSON::Object::Ptr> eventsOf(const CallbackReceiver& r, std::int64_t jobId) {
    std::vector<Poco::JSON::Object::Ptr> out;
    for (const auto& req : r.delivered()) {
        auto body = req.json();
        if (body->getValue<std::int64_t>("job_id") == jobId) out.push_back(body);
    }
    return out;
}

// "task_name event" for each event, to compare sequences in one assertion.
std::string sequence(const std::vector<Poco::JSON::Object::Ptr>& events) {
    std::string s;
    for (const auto& e : events) s += str(e, "task_name") + " " + str(e, "event") + "\n";
    return s;
}

std::int64_t taskId(Cluster& c, std::int64_t jobId, const std::string& name) {
    auto tasks = c.tasks(jobId);
    for (size_t i = 0; i < tasks->size(); ++i) {
        if (str(tasks->getObject(i), "name") == name) {
            return tasks->getObject(i)->getValue<std::int64_t>("id");
        }
    }
    CPPUNIT_FAIL("job " + std::to_string(jobId) + " has no task " + name);
    return 0;
}

void waitEvents(const CallbackReceiver& r, std::int64_t jobId, size_t n,
                std::chrono::seconds timeout = 30s) {
    bool ok = waitUntil([&] { return eventsOf(r, jobId).size() >= n; }, timeout);
    CPPUNIT_ASSERT_MESSAGE("job " + std::to_string(jobId) + ": expected " + std::to_string(n) +
                               " events, got:\n" + sequence(eventsOf(r, jobId)),
                           ok);
}

const std::string kTwoStep =
    "cb-prepare start\ncb-prepare complete\ncb-package start\ncb-package complete\n"
    "cb-two-step complete\n";

// Checks the body of every event of a finished cb-two-step job and the request's headers.
void checkTwoStep(Cluster& c, const CallbackReceiver& r, std::int64_t jobId,
                  const std::string& path) {
    auto events = eventsOf(r, jobId);
    CPPUNIT_ASSERT_EQUAL(kTwoStep, sequence(events));
    std::int64_t prepare = taskId(c, jobId, "cb-prepare");
    std::int64_t package = taskId(c, jobId, "cb-package");
    const std::vector<std::int64_t> taskIds{prepare, prepare, package, package, 0};
    const std::regex datetime(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)");
    for (size_t i = 0; i < events.size(); ++i) {
        auto e = events[i];
        CPPUNIT_ASSERT_EQUAL(jobId, e->getValue<std::int64_t>("job_id"));
        CPPUNIT_ASSERT_EQUAL(taskIds[i], e->getValue<std::int64_t>("task_id"));
        CPPUNIT_ASSERT_EQUAL(std::string("content-7"), str(e, "content_id"));
        CPPUNIT_ASSERT(e->has("message"));
        CPPUNIT_ASSERT_MESSAGE(str(e, "datetime"), std::regex_match(str(e, "datetime"), datetime));
        for (const char* key :
             {"job_id", "task_id", "task_name", "content_id", "event", "message", "datetime"}) {
            CPPUNIT_ASSERT_MESSAGE(key, e->has(key));
        }
        CPPUNIT_ASSERT_EQUAL(size_t(7), e->size());
    }
    // What the task reported: output.json {"message": "file.ism"}.
    CPPUNIT_ASSERT_EQUAL(std::string("file.ism"), str(events[3], "message"));
    for (const auto& req : r.delivered()) {
        if (req.json()->getValue<std::int64_t>("job_id") != jobId) continue;
        CPPUNIT_ASSERT_EQUAL(std::string("POST"), req.method);
        CPPUNIT_ASSERT_EQUAL(path, req.path);
        CPPUNIT_ASSERT_MESSAGE(req.headers.at("content-type"),
                               req.headers.at("content-type").rfind("application/json", 0) == 0);
        CPPUNIT_ASSERT_EQUAL(kWorkflowId, req.headers.count("workflow-id")
                                              ? req.headers.at("workflow-id")
                                              : std::string("(none)"));
    }
}

Poco::JSON::Object::Ptr callbackQueue(Cluster& c) {
    auto r = c.request("GET", "/health");
    CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
    auto queues = r.object()->getObject("queues");
    CPPUNIT_ASSERT_MESSAGE(r.body, queues->has("callback"));
    return queues->getObject("callback");
}

std::int64_t num(const Poco::JSON::Object::Ptr& o, const std::string& key) {
    return o->getValue<std::int64_t>(key);
}

}  // namespace

class CallbackFlowTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CallbackFlowTest);
    CPPUNIT_TEST(testEveryEventOfATwoTaskJobReachesEveryEndpoint);
    CPPUNIT_TEST(testFailingJobSendsStartFailAndJobFail);
    CPPUNIT_TEST(testReceiverAnswering500GetsTheEventOnceItRecovers);
    CPPUNIT_TEST(testSlowReceiverNeverDelaysDispatch);
    CPPUNIT_TEST(testEventsSurviveServerKillWhileReceiverIsDown);
    CPPUNIT_TEST_SUITE_END();

public:
    void testEveryEventOfATwoTaskJobReachesEveryEndpoint() {
        CallbackReceiver a, b;
        a.start();
        b.start();
        Cluster c(options());
        startOneWorker(c);
        std::int64_t id = c.submit("cb-two-step", params({a.url("/a/events"), b.url("/b")}));
        CPPUNIT_ASSERT(!c.waitFinished(id)->getValue<bool>("failed"));
        waitEvents(a, id, 5);
        waitEvents(b, id, 5);
        std::this_thread::sleep_for(300ms);  // nothing more may come
        checkTwoStep(c, a, id, "/a/events");
        checkTwoStep(c, b, id, "/b");
        CPPUNIT_ASSERT_EQUAL(size_t(5), a.requests().size());
        // A job without rest_endpoints calls nobody.
        std::int64_t quiet = c.submit("cb-two-step", "{\"content_id\": \"q\"}");
        c.waitFinished(quiet);
        std::this_thread::sleep_for(500ms);
        CPPUNIT_ASSERT_EQUAL(size_t(5), a.requests().size());
        CPPUNIT_ASSERT_EQUAL(size_t(5), b.requests().size());
    }

    void testFailingJobSendsStartFailAndJobFail() {
        CallbackReceiver r;
        r.start();
        Cluster c(options());
        startOneWorker(c);
        std::int64_t id = c.submit("cb-fail", params({r.url()}));
        CPPUNIT_ASSERT(c.waitFinished(id)->getValue<bool>("failed"));
        waitEvents(r, id, 3);
        std::this_thread::sleep_for(300ms);
        auto events = eventsOf(r, id);
        CPPUNIT_ASSERT_EQUAL(std::string("cb-broken start\ncb-broken fail\ncb-fail fail\n"),
                             sequence(events));
        std::int64_t broken = taskId(c, id, "cb-broken");
        CPPUNIT_ASSERT_EQUAL(broken, events[0]->getValue<std::int64_t>("task_id"));
        CPPUNIT_ASSERT_EQUAL(broken, events[1]->getValue<std::int64_t>("task_id"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t(0), events[2]->getValue<std::int64_t>("task_id"));
        // The fail events say why.
        CPPUNIT_ASSERT_MESSAGE(str(events[1], "message"), !str(events[1], "message").empty());
        CPPUNIT_ASSERT_MESSAGE(str(events[2], "message"),
                               str(events[2], "message").find("cb-broken") != std::string::npos);
        for (const auto& e : events)
            CPPUNIT_ASSERT_EQUAL(std::string("content-7"), str(e, "content_id"));
        for (const auto& req : r.delivered()) {
            CPPUNIT_ASSERT_EQUAL(kWorkflowId, req.headers.count("workflow-id")
                                                  ? req.headers.at("workflow-id")
                                                  : std::string("(none)"));
        }
    }

    void testReceiverAnswering500GetsTheEventOnceItRecovers() {
        CallbackReceiver r;
        r.failNext(3, 500);
        r.start();
        Cluster c(options());
        startOneWorker(c);
        std::int64_t id = c.submit("cb-two-step", params({r.url()}));
        CPPUNIT_ASSERT(!c.waitFinished(id)->getValue<bool>("failed"));
        waitEvents(r, id, 5);
        std::this_thread::sleep_for(300ms);
        checkTwoStep(c, r, id, "/events");
        auto all = r.requests();
        CPPUNIT_ASSERT_EQUAL(size_t(8), all.size());
        // The first event was tried three times with the same bytes, and later events waited.
        for (int i = 0; i < 3; ++i) {
            CPPUNIT_ASSERT_EQUAL(500, all[i].status);
            CPPUNIT_ASSERT_EQUAL(all[3].body, all[i].body);
        }
        CPPUNIT_ASSERT_EQUAL(std::string("start"), str(all[3].json(), "event"));
        std::string log = c.logText(id);
        CPPUNIT_ASSERT_MESSAGE(log, log.find("callback to " + r.url() +
                                             " failed (attempt 1): HTTP 500") != std::string::npos);
    }

    void testSlowReceiverNeverDelaysDispatch() {
        CallbackReceiver r;
        r.setDelay(3s);
        r.start();
        Cluster c(options());
        startOneWorker(c);
        auto begin = std::chrono::steady_clock::now();
        std::int64_t slow = c.submit("cb-two-step", params({r.url()}));
        std::int64_t quiet = c.submit("cb-two-step", "{\"content_id\": \"q\"}");
        CPPUNIT_ASSERT(!c.waitFinished(quiet, 20s)->getValue<bool>("failed"));
        CPPUNIT_ASSERT(!c.waitFinished(slow, 20s)->getValue<bool>("failed"));
        auto took = std::chrono::steady_clock::now() - begin;
        // Five callbacks at 3 s each take 15 s; the jobs did not wait for them.
        CPPUNIT_ASSERT_MESSAGE("delivered " + std::to_string(r.deliveredCount()),
                               r.deliveredCount() < 5);
        CPPUNIT_ASSERT(took < 12s);
        // The stuck events show in /health.
        auto q = callbackQueue(c);
        CPPUNIT_ASSERT_EQUAL(std::int64_t(2), num(q, "workers"));
        CPPUNIT_ASSERT(waitUntil([&] { return num(callbackQueue(c), "working") >= 1; }, 5s));
        CPPUNIT_ASSERT(waitUntil([&] { return num(callbackQueue(c), "pending") >= 1; }, 5s));

        r.setDelay(0ms);
        waitEvents(r, slow, 5, 20s);
        checkTwoStep(c, r, slow, "/events");
        CPPUNIT_ASSERT(waitUntil([&] { return num(callbackQueue(c), "pending") == 0; }, 5s));
    }

    void testEventsSurviveServerKillWhileReceiverIsDown() {
        CallbackReceiver r;  // its port is reserved; it starts answering at the end
        Cluster c(options());
        c.startServerProcess();
        c.startWorker("w", "work", 4);
        auto workers = [&] {
            auto h = c.request("GET", "/health").object();
            return num(h->getObject("queues")->getObject("work"), "workers");
        };
        CPPUNIT_ASSERT(waitUntil([&] { return workers() == 1; }, 20s));

        std::int64_t done = c.submit("cb-two-step", params({r.url()}));
        CPPUNIT_ASSERT(!c.waitFinished(done)->getValue<bool>("failed"));
        std::string gate = c.dir().file("gate");
        std::int64_t held =
            c.submit("cb-hold-then-package", params({r.url()}, "\"gate\": \"" + gate + "\""));
        CPPUNIT_ASSERT(waitUntil(
            [&] {
                auto t = c.tasks(held);
                return t->size() == 1 && str(t->getObject(0), "state") == "running";
            },
            20s));
        // Six events wait in the outbox: five of the first job, the start of the second.
        CPPUNIT_ASSERT(waitUntil([&] { return num(callbackQueue(c), "pending") >= 6; }, 5s));
        CPPUNIT_ASSERT_EQUAL(size_t(0), r.requests().size());

        c.killServerProcess();
        c.startServerProcess();
        CPPUNIT_ASSERT(waitUntil([&] { return workers() == 1; }, 20s));
        writeFile(gate, "open");
        CPPUNIT_ASSERT(!c.waitFinished(held)->getValue<bool>("failed"));
        CPPUNIT_ASSERT(waitUntil([&] { return num(callbackQueue(c), "pending") >= 10; }, 5s));

        r.start();
        waitEvents(r, done, 5);
        waitEvents(r, held, 5);
        std::this_thread::sleep_for(300ms);
        checkTwoStep(c, r, done, "/events");
        CPPUNIT_ASSERT_EQUAL(std::string("cb-hold start\ncb-hold complete\ncb-package start\n"
                                         "cb-package complete\ncb-hold-then-package complete\n"),
                             sequence(eventsOf(r, held)));
        CPPUNIT_ASSERT(waitUntil([&] { return num(callbackQueue(c), "pending") == 0; }, 5s));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CallbackFlowTest);
