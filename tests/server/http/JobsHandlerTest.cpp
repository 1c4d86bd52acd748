// POST /job, GET and PUT /jobs/<id>, POST /jobs/<id>/rerun and GET /jobs/<id>/tasks against a
// real server, on SQLite and PostgreSQL.
#include <cppunit/extensions/HelperMacros.h>

#include "shared/model/Time.h"
#include "tests/server/http/ApiAsserts.h"
#include "tests/server/http/ApiTestServer.h"

namespace te::test {
namespace {

const std::vector<std::string> kFullJobKeys = {
    "id",         "client",     "workflow",   "priority",    "position", "top_of_queue",
    "parameters", "created_at", "updated_at", "queue_state", "failed",   "run_at"};

Poco::JSON::Object::Ptr getJob(const HttpTestClient& c, long long id) {
    HttpReply r = c.get("/jobs/" + std::to_string(id));
    assertOk(r, "GET /jobs/" + std::to_string(id));
    return r.object();
}

}  // namespace

class JobsHandlerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(JobsHandlerTest);
    CPPUNIT_TEST(testSubmitAndGet);
    CPPUNIT_TEST(testOverviewCurlForm);
    CPPUNIT_TEST(testSubmitClientHeaderAndBody);
    CPPUNIT_TEST(testBodyIsJsonWhateverItsContentType);
    CPPUNIT_TEST(testSubmitOptions);
    CPPUNIT_TEST(testSubmitErrors);
    CPPUNIT_TEST(testUpdate);
    CPPUNIT_TEST(testUpdateErrors);
    CPPUNIT_TEST(testRerun);
    CPPUNIT_TEST(testTasks);
    CPPUNIT_TEST(testClientIsolation);
    CPPUNIT_TEST_SUITE_END();

public:
    void testSubmitAndGet() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            HttpReply r = demo.post(
                "/job",
                R"({"job": {"workflow": "vodcapture"}, "parameters": {"content_id": "abc", "n": 7}})");
            assertOk(r, "POST /job");
            Poco::JSON::Object::Ptr accepted = r.object();
            assertKeys(accepted, {"id", "result"});
            CPPUNIT_ASSERT_EQUAL(std::string("accepted"),
                                 accepted->getValue<std::string>("result"));
            CPPUNIT_ASSERT(accepted->get("id").isInteger());
            long long id = accepted->getValue<long long>("id");

            Poco::JSON::Object::Ptr job = getJob(demo, id);
            assertKeys(job, kFullJobKeys);
            CPPUNIT_ASSERT_EQUAL(id, job->getValue<long long>("id"));
            CPPUNIT_ASSERT_EQUAL(std::string("demo-client"), job->getValue<std::string>("client"));
            CPPUNIT_ASSERT_EQUAL(std::string("vodcapture"), job->getValue<std::string>("workflow"));
            CPPUNIT_ASSERT_EQUAL(5, job->getValue<int>("priority"));
            CPPUNIT_ASSERT_EQUAL(std::string("started"), job->getValue<std::string>("queue_state"));
            CPPUNIT_ASSERT_EQUAL(false, job->getValue<bool>("failed"));
            CPPUNIT_ASSERT(job->get("top_of_queue").isBoolean());
            CPPUNIT_ASSERT(job->get("position").isInteger());
            Poco::JSON::Object::Ptr params = job->getObject("parameters");
            CPPUNIT_ASSERT_MESSAGE("parameters must be an object", !params.isNull());
            CPPUNIT_ASSERT_EQUAL(std::string("abc"), params->getValue<std::string>("content_id"));
            CPPUNIT_ASSERT_EQUAL(7, params->getValue<int>("n"));
            for (const char* field : {"created_at", "updated_at", "run_at"}) {
                CPPUNIT_ASSERT_MESSAGE(field, isIsoMs(job->getValue<std::string>(field)));
            }
            // Without run_at the job may run at once: run_at is (about) its creation time.
            TimeMs created = parseIso(job->getValue<std::string>("created_at")).value();
            TimeMs runAt = parseIso(job->getValue<std::string>("run_at")).value();
            CPPUNIT_ASSERT_MESSAGE(r.body, std::abs(runAt - created) < 1000);
        });
    }

    void testOverviewCurlForm() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            // curl -X POST -H "Content-Type: application/json" -H "API-KEY: <key>"
            //      -d '{"client": "<client>", "job": {...}, "parameters": {...}}' .../job
            HttpReply r = s.demo().raw(
                "POST", "/job",
                R"({"client": "demo-client", "job": { "workflow": "vodcapture" }, "parameters": {"content_id": "c-1"}})",
                {{"Content-Type", "application/json"}, {"API-KEY", "demo-key"}});
            assertOk(r, "overview curl form");
            long long id = r.object()->getValue<long long>("id");
            CPPUNIT_ASSERT_EQUAL(std::string("demo-client"),
                                 getJob(s.demo(), id)->getValue<std::string>("client"));
            // The same form with a wrong key, or naming another client, is refused.
            assertError(s.demo().raw("POST", "/job",
                                     R"({"client": "demo-client", "job": {"workflow": "ping"}})",
                                     {{"API-KEY", "other-key"}}),
                        401, "authentication");
            assertError(s.demo().raw("POST", "/job",
                                     R"({"client": "other-client", "job": {"workflow": "ping"}})",
                                     {{"API-KEY", "demo-key"}}),
                        401, "authentication");
            assertError(s.demo().raw("POST", "/job", R"({"job": {"workflow": "ping"}})",
                                     {{"API-KEY", "demo-key"}}),
                        401, "authentication", "no client anywhere");
        });
    }

    // Decision (docs/api.md): a body is read as JSON whatever its Content-Type says. The
    // reference requires application/json, but `curl -d` without -H sends
    // application/x-www-form-urlencoded, and refusing a body that parses would only break
    // such clients; a body that does not parse is a 400 either way.
    void testBodyIsJsonWhateverItsContentType() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            for (const char* type : {"application/x-www-form-urlencoded", "text/plain"}) {
                HttpReply r = demo.post(
                    "/job",
                    R"({"job": {"workflow": "vodcapture"}, "parameters": {"content_id": "t-1"}})",
                    {{"Content-Type", type}});
                assertOk(r, type);
                long long id = r.object()->getValue<long long>("id");
                Poco::JSON::Object::Ptr job = getJob(demo, id);
                CPPUNIT_ASSERT_EQUAL(
                    std::string("t-1"),
                    job->getObject("parameters")->getValue<std::string>("content_id"));
                assertOk(demo.put("/jobs/" + std::to_string(id), R"({"priority": 3})",
                                  {{"Content-Type", type}}),
                         type);
                CPPUNIT_ASSERT_EQUAL(3, getJob(demo, id)->getValue<int>("priority"));
                assertError(demo.post("/job", "job=ping", {{"Content-Type", type}}), 400, "JSON");
            }
        });
    }

    void testSubmitClientHeaderAndBody() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            assertOk(demo.post("/job", R"({"client": "demo-client", "job": {"workflow": "ping"}})"),
                     "header and body agree");
            assertError(
                demo.post("/job", R"({"client": "other-client", "job": {"workflow": "ping"}})"),
                400, "differ");
            assertError(demo.post("/job", R"({"client": 5, "job": {"workflow": "ping"}})"), 400,
                        "client must be a string");
            // A wrong key with the client header fails before the body is looked at.
            assertError(demo.post("/job", "not json", {{"api-key", "nope"}}), 401,
                        "authentication");
        });
    }

    void testSubmitOptions() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            long long id = demo.submit(
                "ping", "{}",
                R"("priority": 3, "run_at": "2030-06-19T17:00:30.000", "persist": true, "semaphore_url": "http://127.0.0.1:9/go")");
            Poco::JSON::Object::Ptr job = getJob(demo, id);
            CPPUNIT_ASSERT_EQUAL(3, job->getValue<int>("priority"));
            CPPUNIT_ASSERT_EQUAL(std::string("scheduled"),
                                 job->getValue<std::string>("queue_state"));
            CPPUNIT_ASSERT_EQUAL(std::string("2030-06-19T17:00:30.000Z"),
                                 job->getValue<std::string>("run_at"));
            HttpReply persisted = demo.get("/jobs?persist=1");
            CPPUNIT_ASSERT_EQUAL(idList({id}), idList(ids(persisted.array())));
            // Priority as a numeric string, like the reference's PUT sample; the misspelt key.
            long long id2 = demo.submit(
                "ping", "{}", R"("priority": "2", "sempahore_url": "https://example.com/s")");
            CPPUNIT_ASSERT_EQUAL(2, getJob(demo, id2)->getValue<int>("priority"));
        });
    }

    void testSubmitErrors() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            const std::vector<std::tuple<std::string, std::string>> cases = {
                {"not json", "malformed JSON"},
                {"", "JSON object"},
                {"[]", "JSON object"},
                {"\"job\"", "JSON object"},
                {R"({"parameters": {}})", "job is required"},
                {R"({"job": "ping"})", "job must be a JSON object"},
                {R"({"job": {}})", "job.workflow is required"},
                {R"({"job": {"workflow": ""}})", "job.workflow is required"},
                {R"({"job": {"workflow": 5}})", "job.workflow must be a string"},
                {R"({"job": {"workflow": "nope"}})", "unknown workflow"},
                {R"({"job": {"workflow": "vodcapture"}, "parameters": {}})", "content_id"},
                {R"({"job": {"workflow": "ping"}, "parameters": []})",
                 "parameters must be a JSON object"},
                {R"({"job": {"workflow": "ping"}, "parameters": "x"})",
                 "parameters must be a JSON object"},
                {R"({"job": {"workflow": "ping"}, "parameters": null})",
                 "parameters must be a JSON object"},
                {R"({"job": {"workflow": "ping", "priority": "high"}})",
                 "job.priority must be an integer"},
                {R"({"job": {"workflow": "ping", "priority": 1.5}})",
                 "job.priority must be an integer"},
                {R"({"job": {"workflow": "ping", "priority": true}})",
                 "job.priority must be an integer"},
                {R"({"job": {"workflow": "ping", "priority": 99999999999}})",
                 "job.priority must be an integer"},
                {R"({"job": {"workflow": "ping", "run_at": "tomorrow"}})", "job.run_at"},
                {R"({"job": {"workflow": "ping", "run_at": 5}})", "job.run_at must be a string"},
                {R"({"job": {"workflow": "ping", "persist": "yes"}})", "job.persist"},
                {R"({"job": {"workflow": "ping", "semaphore_url": "ftp://x/y"}})",
                 "job.semaphore_url"},
                {R"({"job": {"workflow": "ping", "colour": "red"}})", "unknown field job.colour"},
                {R"({"job": {"workflow": "ping"}, "extra": 1})", "unknown field extra"},
                {R"({"job": {"workflow": "ping"}} trailing)", "malformed JSON"},
            };
            for (const auto& [body, fragment] : cases) {
                assertError(demo.post("/job", body), 400, fragment, body);
            }
            // Nothing was stored by any of them.
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), demo.get("/jobs").array()->size());
        });
    }

    void testUpdate() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            long long id = demo.submit("ping", "{}", R"("run_at": "2099-01-01T00:00:00.000")");
            std::string path = "/jobs/" + std::to_string(id);
            // The reference's sample payload, as written.
            HttpReply r = demo.put(
                path,
                R"({"client": "demo-client", "priority": "2", "run_at": "2020-09-09T14:30:00.000"})");
            assertOk(r, "PUT sample");
            Poco::JSON::Object::Ptr o = r.object();
            assertKeys(o, {"id", "result"});
            CPPUNIT_ASSERT_EQUAL(id, o->getValue<long long>("id"));
            std::string result = o->getValue<std::string>("result");
            CPPUNIT_ASSERT_MESSAGE(result, result.rfind("Performed updates: ", 0) == 0);
            CPPUNIT_ASSERT_MESSAGE(result,
                                   result.find("Performed updates: ", 1) == std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(result, result.find("priority") != std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(result, result.find("run_at") != std::string::npos);
            Poco::JSON::Object::Ptr job = getJob(demo, id);
            CPPUNIT_ASSERT_EQUAL(2, job->getValue<int>("priority"));
            CPPUNIT_ASSERT_EQUAL(std::string("2020-09-09T14:30:00.000Z"),
                                 job->getValue<std::string>("run_at"));

            long long other = demo.submit("ping");
            std::string otherPath = "/jobs/" + std::to_string(other);
            assertOk(demo.put(otherPath, R"({"queue_state": "paused"})"), "pause");
            CPPUNIT_ASSERT_EQUAL(std::string("paused"),
                                 getJob(demo, other)->getValue<std::string>("queue_state"));
            assertOk(demo.put(otherPath,
                              R"({"sempahore_url": "http://127.0.0.1:9/s", "persist": true})"),
                     "semaphore and persist");
            assertOk(demo.put(otherPath, R"({"queue_state": "broken"})"), "break");
            CPPUNIT_ASSERT_EQUAL(std::string("broken"),
                                 getJob(demo, other)->getValue<std::string>("queue_state"));
        });
    }

    void testUpdateErrors() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            long long id = demo.submit("ping");
            std::string path = "/jobs/" + std::to_string(id);
            const std::vector<std::tuple<std::string, std::string>> cases = {
                {"{", "malformed JSON"},
                {"[1]", "JSON object"},
                {"{}", "nothing to update"},
                {R"({"client": "demo-client"})", "nothing to update"},
                {R"({"queue_state": "completed"})", "queue_state must be"},
                {R"({"queue_state": 1})", "queue_state must be a string"},
                {R"({"priority": "x"})", "priority must be an integer"},
                {R"({"run_at": "2020-13-45"})", "run_at"},
                {R"({"persist": "no"})", "persist"},
                {R"x({"semaphore_url": "javascript:alert(1)"})x", "semaphore_url"},
                {R"({"workflow": "other"})", "unknown field workflow"},
                {R"({"client": "other-client", "priority": 1})", "client does not match"},
            };
            for (const auto& [body, fragment] : cases) {
                HttpReply r = demo.put(path, body);
                assertError(r, 400, fragment, body);
                CPPUNIT_ASSERT_EQUAL_MESSAGE("400 on a job carries its id: " + r.body, id,
                                             r.object()->getValue<long long>("id"));
            }
            assertError(demo.put("/jobs/987654321", R"({"priority": 1})"), 404, "not found");
            assertError(demo.put(path, R"({"priority": 1})", {{"api-key", "x"}}), 401,
                        "authentication");
            CPPUNIT_ASSERT_EQUAL(5, getJob(demo, id)->getValue<int>("priority"));
        });
    }

    void testRerun() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            long long id = demo.submit("vodcapture", R"({"content_id": "again"})");
            HttpReply r = demo.post("/jobs/" + std::to_string(id) + "/rerun", "");
            assertOk(r, "rerun");
            Poco::JSON::Object::Ptr o = r.object();
            assertKeys(o, {"id", "result"});
            CPPUNIT_ASSERT_EQUAL(std::string("accepted"), o->getValue<std::string>("result"));
            long long copy = o->getValue<long long>("id");
            CPPUNIT_ASSERT(copy != id);
            CPPUNIT_ASSERT_EQUAL(std::string("broken"),
                                 getJob(demo, id)->getValue<std::string>("queue_state"));
            Poco::JSON::Object::Ptr job = getJob(demo, copy);
            CPPUNIT_ASSERT_EQUAL(std::string("vodcapture"), job->getValue<std::string>("workflow"));
            CPPUNIT_ASSERT_EQUAL(std::string("again"),
                                 job->getObject("parameters")->getValue<std::string>("content_id"));
            assertError(demo.post("/jobs/987654321/rerun", ""), 404, "not found");
            assertError(demo.get("/jobs/" + std::to_string(id) + "/rerun"), 405, "not allowed");
        });
    }

    void testTasks() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            long long id = demo.submit("vodcapture", R"({"content_id": "t"})");
            HttpReply r = demo.get("/jobs/" + std::to_string(id) + "/tasks");
            assertOk(r, "tasks");
            Poco::JSON::Array::Ptr tasks = r.array();
            CPPUNIT_ASSERT_MESSAGE(r.body, tasks->size() >= 1);
            Poco::JSON::Object::Ptr first = tasks->getObject(0);
            assertKeys(first, {"id", "name", "stage", "kind", "state", "queue", "worker", "attempt",
                               "started_at", "finished_at", "exit_code", "message", "output"});
            CPPUNIT_ASSERT(first->get("id").isInteger());
            CPPUNIT_ASSERT_EQUAL(std::string("capture"), first->getValue<std::string>("name"));
            CPPUNIT_ASSERT_EQUAL(0, first->getValue<int>("stage"));
            CPPUNIT_ASSERT_EQUAL(std::string("normal"), first->getValue<std::string>("kind"));
            CPPUNIT_ASSERT_EQUAL(std::string("work"), first->getValue<std::string>("queue"));
            CPPUNIT_ASSERT_EQUAL(1, first->getValue<int>("attempt"));
            CPPUNIT_ASSERT(first->isNull("finished_at"));
            CPPUNIT_ASSERT(first->isNull("exit_code"));
            CPPUNIT_ASSERT(!first->getObject("output").isNull());
            assertError(demo.get("/jobs/987654321/tasks"), 404, "not found");
        });
    }

    void testClientIsolation() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo(), other = s.other();
            long long id = demo.submit("vodcapture", R"({"content_id": "mine"})");
            std::string p = std::to_string(id);
            HttpReply missing = other.get("/jobs/987654321");
            assertError(missing, 404, "not found");
            // Another client's job looks exactly like a missing one.
            for (const HttpReply& r :
                 {other.get("/jobs/" + p), other.put("/jobs/" + p, R"({"priority": 1})"),
                  other.post("/jobs/" + p + "/rerun", ""), other.get("/jobs/" + p + "/tasks"),
                  other.get("/logs/" + p)}) {
                assertError(r, 404, "not found");
                CPPUNIT_ASSERT_MESSAGE(r.body, r.body.find("demo-client") == std::string::npos);
                CPPUNIT_ASSERT_MESSAGE(r.body, r.body.find("mine") == std::string::npos);
            }
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), other.get("/jobs").array()->size());
            CPPUNIT_ASSERT_EQUAL(std::size_t(0),
                                 other.get("/jobs?client=demo-client").array()->size());
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), other.get("/jobs?job_ids=" + p).array()->size());
            // Nothing changed: still demo's, still priority 5, not broken.
            Poco::JSON::Object::Ptr job = getJob(demo, id);
            CPPUNIT_ASSERT_EQUAL(5, job->getValue<int>("priority"));
            CPPUNIT_ASSERT_EQUAL(std::string("started"), job->getValue<std::string>("queue_state"));
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), demo.get("/jobs").array()->size());
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(JobsHandlerTest);

}  // namespace te::test
