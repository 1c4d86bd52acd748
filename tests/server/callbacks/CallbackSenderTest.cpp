// Tests of server/callbacks/CallbackSender.cpp against real HTTP receivers on 127.0.0.1 and a
// real store on every backend: delivery, headers and signature, retries, order per job and
// endpoint, restart durability, slow receivers, max age, database outages, stats.
#include <Poco/Timestamp.h>
#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

#include "server/callbacks/CallbackBuilder.h"
#include "server/callbacks/CallbackSender.h"
#include "server/callbacks/CallbackSignature.h"
#include "server/engine/Engine.h"
#include "server/store/Store.h"
#include "shared/Errors.h"
#include "shared/util/Json.h"
#include "tests/server/callbacks/FaultyStore.h"
#include "tests/server/callbacks/RecordingReceiver.h"
#include "tests/support/PostgresFixture.h"
#include "tests/support/TestUtil.h"

namespace {

using namespace std::chrono_literals;
using te::CallbackEvent;
using te::test::RecordingReceiver;
using te::test::waitUntil;

const char* kWorkflowId = "52ec321b-8da3-4f5f-9cd3-749789577cd3";
const char* kSecret = "s3cret";

te::ServerConfig makeConfig() {
    te::ServerConfig c;
    c.callbacks.threads = 2;
    c.callbacks.timeoutSec = 5;
    c.callbacks.backoffBaseMs = 50;
    c.callbacks.backoffMaxMs = 200;
    c.callbacks.maxAgeSec = 3600;
    te::ClientConfig acme;
    acme.name = "acme";
    acme.callbackHeaders = {{"Workflow-Id", kWorkflowId}};
    acme.callbackSecret = kSecret;
    c.clients.push_back(acme);
    return c;
}

te::Job insertJob(te::Store& store, const std::vector<std::string>& endpoints) {
    te::Job job;
    job.client = "acme";
    job.workflow = "vod";
    job.contentId = "content-1";
    job.parameters = te::json::stringify(te::json::fromStringList(endpoints));
    job.parameters = R"({"content_id": "content-1", "rest_endpoints": )" + job.parameters + "}";
    store.transact([&](te::Tx& tx) { tx.insertJob(job); });
    return job;
}

// Builds the events of one engine event and writes them, as the engine does.
void enqueue(te::Store& store, const te::ServerConfig& config, const te::Job& job,
             const std::string& message, te::TimeMs createdAt = 0) {
    te::CallbackBuilder builder(config.clients, config.callbacks);
    auto events = builder.build(job, nullptr, nullptr, "complete", message, te::nowMs());
    store.transact([&](te::Tx& tx) {
        for (auto& e : events) {
            e.createdAt = createdAt;
            tx.enqueueCallback(e);
        }
    });
}

std::vector<CallbackEvent> callbacks(te::Store& store, std::int64_t jobId) {
    std::vector<CallbackEvent> out;
    store.transact([&](te::Tx& tx) { out = tx.listCallbacks(jobId); });
    return out;
}

bool allInState(te::Store& store, std::int64_t jobId, std::size_t n, CallbackEvent::State s) {
    auto events = callbacks(store, jobId);
    return events.size() == n && std::all_of(events.begin(), events.end(),
                                             [&](const CallbackEvent& e) { return e.state == s; });
}

std::string messageOf(const RecordingReceiver::Request& r) {
    return te::json::parseObject(r.body)->getValue<std::string>("message");
}

std::int64_t jobOf(const RecordingReceiver::Request& r) {
    return te::json::parseObject(r.body)->getValue<std::int64_t>("job_id");
}

class CallbackSenderTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CallbackSenderTest);
    CPPUNIT_TEST(testDeliversWithHeadersAndSignature);
    CPPUNIT_TEST(testDeliversOverHttps);
    CPPUNIT_TEST(testRetriesUntilReceiverRecovers);
    CPPUNIT_TEST(testKeepsOrderPerJobAndEndpoint);
    CPPUNIT_TEST(testSurvivesRestartWhileReceiverDown);
    CPPUNIT_TEST(testSlowReceiverBlocksNobody);
    CPPUNIT_TEST(testMaxAgeMarksDeadAndLogs);
    CPPUNIT_TEST(testSurvivesStoreOutage);
    CPPUNIT_TEST(testSurvivesPostgresRestart);
    CPPUNIT_TEST(testStats);
    CPPUNIT_TEST_SUITE_END();

    // Runs body once per backend, with a fresh database each time.
    template <typename Fn>
    void eachBackend(Fn body) {
        te::test::TempDir dir;
        for (const auto& url : te::test::backendUrls(dir.path())) body(url);
    }

public:
    void testDeliversWithHeadersAndSignature() {
        eachBackend([](const std::string& dbUrl) {
            RecordingReceiver receiver;
            receiver.start();
            auto store = te::Store::open(dbUrl);
            auto config = makeConfig();
            te::CallbackSender sender(*store, config);
            sender.start();
            te::Job job = insertJob(*store, {receiver.url("/hook?x=1")});
            enqueue(*store, config, job, "done.ism");
            sender.wake();

            CPPUNIT_ASSERT_MESSAGE(dbUrl, waitUntil([&] { return receiver.count() == 1; }, 10s));
            CPPUNIT_ASSERT_MESSAGE(
                dbUrl,
                waitUntil(
                    [&] { return allInState(*store, job.id, 1, CallbackEvent::State::Delivered); },
                    10s));
            auto r = receiver.requests().at(0);
            auto stored = callbacks(*store, job.id).at(0);
            CPPUNIT_ASSERT_EQUAL(std::string("POST"), r.method);
            CPPUNIT_ASSERT_EQUAL(std::string("/hook?x=1"), r.path);
            CPPUNIT_ASSERT_EQUAL(stored.body, r.body);
            CPPUNIT_ASSERT_EQUAL(std::string("done.ism"), messageOf(r));
            CPPUNIT_ASSERT_EQUAL(job.id, jobOf(r));
            CPPUNIT_ASSERT_EQUAL(std::string("application/json"), r.headers["content-type"]);
            CPPUNIT_ASSERT_EQUAL(std::string(kWorkflowId), r.headers["workflow-id"]);
            std::string signature = r.headers["x-taskengine-signature"];
            std::int64_t now = Poco::Timestamp().epochTime();
            CPPUNIT_ASSERT_MESSAGE(signature,
                                   te::CallbackSignature::verify(signature, kSecret, r.body, now));
            CPPUNIT_ASSERT(!te::CallbackSignature::verify(signature, "wrong", r.body, now));
            CPPUNIT_ASSERT_EQUAL(1, stored.attempts);
            CPPUNIT_ASSERT(stored.deliveredAt > 0);
            sender.stop();
        });
    }

    // HTTPS with certificate verification: trusted through SSL_CERT_FILE it is delivered; a
    // certificate nobody vouches for is an error, never a delivery.
    void testDeliversOverHttps() {
        std::string pem = te::test::sourcePath("tests/server/callbacks/tls-receiver.pem");
        RecordingReceiver receiver(0, pem);
        receiver.start();
        te::test::TempDir dir;
        auto store = te::Store::open("sqlite3://db=" + dir.file("https.db"));
        auto config = makeConfig();
        te::Job trusted = insertJob(*store, {receiver.url()});
        te::Job untrusted = insertJob(*store, {receiver.url("/other")});
        enqueue(*store, config, trusted, "tls");
        {
            ::setenv("SSL_CERT_FILE", pem.c_str(), 1);
            te::CallbackSender sender(*store, config);
            ::unsetenv("SSL_CERT_FILE");
            sender.start();
            CPPUNIT_ASSERT(waitUntil(
                [&] { return allInState(*store, trusted.id, 1, CallbackEvent::State::Delivered); },
                10s));
            sender.stop();
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), receiver.count());
        CPPUNIT_ASSERT_EQUAL(std::string("tls"), messageOf(receiver.requests().at(0)));

        enqueue(*store, config, untrusted, "tls");
        te::CallbackSender sender(*store, config);
        sender.start();
        CPPUNIT_ASSERT(
            waitUntil([&] { return callbacks(*store, untrusted.id).at(0).attempts > 0; }, 10s));
        sender.stop();
        auto event = callbacks(*store, untrusted.id).at(0);
        CPPUNIT_ASSERT(event.state == CallbackEvent::State::Pending);
        CPPUNIT_ASSERT_MESSAGE(event.lastError, event.lastError.find("certificate verify failed") !=
                                                    std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), receiver.count());
    }

    void testRetriesUntilReceiverRecovers() {
        eachBackend([](const std::string& dbUrl) {
            RecordingReceiver receiver;
            receiver.script({500, 503, 500});
            receiver.start();
            auto store = te::Store::open(dbUrl);
            auto config = makeConfig();
            te::CallbackSender sender(*store, config);
            sender.start();
            te::Job job = insertJob(*store, {receiver.url()});
            enqueue(*store, config, job, "m");
            sender.wake();

            CPPUNIT_ASSERT_MESSAGE(
                dbUrl,
                waitUntil(
                    [&] { return allInState(*store, job.id, 1, CallbackEvent::State::Delivered); },
                    15s));
            auto stored = callbacks(*store, job.id).at(0);
            CPPUNIT_ASSERT_EQUAL(4, stored.attempts);
            CPPUNIT_ASSERT_EQUAL(std::size_t(4), receiver.count());
            auto requests = receiver.requests();
            CPPUNIT_ASSERT_EQUAL(200, requests.back().status);
            // Backed off between attempts: the 3 waits are at least 0.8 * (50 + 100 + 200) ms.
            CPPUNIT_ASSERT(requests.back().at - requests.front().at >= 280ms);
            std::vector<te::LogEntry> logs;
            store->transact([&](te::Tx& tx) { logs = tx.listLogs(job.id, 0); });
            int warnings = 0;
            for (const auto& l : logs) {
                if (l.progname == "callback" && l.severity == te::Severity::Warn) ++warnings;
            }
            CPPUNIT_ASSERT_EQUAL(3, warnings);
            sender.stop();
        });
    }

    void testKeepsOrderPerJobAndEndpoint() {
        eachBackend([](const std::string& dbUrl) {
            RecordingReceiver receiver;
            receiver.script({500, 200, 500, 500, 200, 200, 500, 200, 503, 500, 200, 500, 200});
            receiver.start();
            auto store = te::Store::open(dbUrl);
            auto config = makeConfig();
            config.callbacks.threads = 4;
            te::CallbackSender sender(*store, config);
            te::Job a = insertJob(*store, {receiver.url("/a")});
            te::Job b = insertJob(*store, {receiver.url("/b")});
            const int n = 8;
            for (int i = 0; i < n; ++i) {
                enqueue(*store, config, a, "m" + std::to_string(i));
                enqueue(*store, config, b, "m" + std::to_string(i));
            }
            sender.start();

            CPPUNIT_ASSERT_MESSAGE(
                dbUrl, waitUntil(
                           [&] {
                               return allInState(*store, a.id, n,
                                                 CallbackEvent::State::Delivered) &&
                                      allInState(*store, b.id, n, CallbackEvent::State::Delivered);
                           },
                           20s));
            for (std::int64_t jobId : {a.id, b.id}) {
                std::vector<std::string> seen, accepted;
                for (const auto& r : receiver.requests()) {
                    if (jobOf(r) != jobId) continue;
                    seen.push_back(messageOf(r));
                    if (r.status == 200) accepted.push_back(messageOf(r));
                }
                CPPUNIT_ASSERT(std::is_sorted(seen.begin(), seen.end()));  // m0..m7 sort as text
                CPPUNIT_ASSERT_EQUAL(std::size_t(n), accepted.size());
                for (int i = 0; i < n; ++i) {
                    CPPUNIT_ASSERT_EQUAL("m" + std::to_string(i), accepted[i]);
                }
            }
            sender.stop();
        });
    }

    void testSurvivesRestartWhileReceiverDown() {
        eachBackend([](const std::string& dbUrl) {
            int port = te::test::freePort();  // nothing listens there yet
            auto config = makeConfig();
            std::string hook = "http://127.0.0.1:" + std::to_string(port) + "/hook";
            std::int64_t jobId = 0;
            {
                auto store = te::Store::open(dbUrl);
                te::CallbackSender sender(*store, config);
                sender.start();
                te::Job job = insertJob(*store, {hook});
                jobId = job.id;
                for (int i = 0; i < 3; ++i) enqueue(*store, config, job, "m" + std::to_string(i));
                sender.wake();
                CPPUNIT_ASSERT_MESSAGE(
                    dbUrl,
                    waitUntil([&] { return callbacks(*store, jobId).at(0).attempts >= 2; }, 10s));
                auto events = callbacks(*store, jobId);
                CPPUNIT_ASSERT_EQUAL(std::string("connection refused"), events[0].lastError);
                CPPUNIT_ASSERT_EQUAL(0, events[1].attempts);  // the chain waits for its head
                sender.stop();
            }
            RecordingReceiver receiver(port);
            receiver.start();
            auto store = te::Store::open(dbUrl);
            te::CallbackSender sender(*store, config);
            sender.start();
            CPPUNIT_ASSERT_MESSAGE(
                dbUrl,
                waitUntil(
                    [&] { return allInState(*store, jobId, 3, CallbackEvent::State::Delivered); },
                    10s));
            auto requests = receiver.requests();
            CPPUNIT_ASSERT_EQUAL(std::size_t(3), requests.size());
            for (int i = 0; i < 3; ++i) {
                CPPUNIT_ASSERT_EQUAL("m" + std::to_string(i), messageOf(requests[i]));
            }
            sender.stop();
        });
    }

    void testSlowReceiverBlocksNobody() {
        eachBackend([](const std::string& dbUrl) {
            RecordingReceiver slow, fast;
            slow.setDelay(3000ms);
            slow.start();
            fast.start();
            auto store = te::Store::open(dbUrl);
            auto config = makeConfig();
            te::CallbackSender sender(*store, config);
            sender.start();
            te::Job a = insertJob(*store, {slow.url(), fast.url()});
            enqueue(*store, config, a, "a");
            sender.wake();
            CPPUNIT_ASSERT_MESSAGE(dbUrl, waitUntil([&] { return slow.active() == 1; }, 5s));
            // The same job's other endpoint is another chain: it is not held up.
            CPPUNIT_ASSERT(waitUntil([&] { return fast.count() == 1; }, 2s));

            auto t0 = std::chrono::steady_clock::now();
            te::Job b = insertJob(*store, {fast.url()});
            enqueue(*store, config, b, "b");
            sender.wake();
            CPPUNIT_ASSERT(std::chrono::steady_clock::now() - t0 < 500ms);
            CPPUNIT_ASSERT(waitUntil([&] { return fast.count() == 2; }, 2s));
            CPPUNIT_ASSERT_EQUAL(1, slow.active());  // still sleeping: the work was parallel
            CPPUNIT_ASSERT(sender.stats().working >= 1);

            // stop() lets the slow request finish and records it.
            sender.stop();
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), slow.count());
            CPPUNIT_ASSERT(allInState(*store, a.id, 2, CallbackEvent::State::Delivered));
        });
    }

    void testMaxAgeMarksDeadAndLogs() {
        eachBackend([](const std::string& dbUrl) {
            RecordingReceiver receiver;
            receiver.setDefaultStatus(500);
            receiver.start();
            auto store = te::Store::open(dbUrl);
            auto config = makeConfig();
            config.callbacks.maxAgeSec = 1;
            te::CallbackSender sender(*store, config);
            sender.start();
            te::Job job = insertJob(*store, {receiver.url()});
            enqueue(*store, config, job, "old", te::nowMs() - 10000);
            sender.wake();

            CPPUNIT_ASSERT_MESSAGE(
                dbUrl,
                waitUntil([&] { return allInState(*store, job.id, 1, CallbackEvent::State::Dead); },
                          10s));
            std::this_thread::sleep_for(300ms);  // a dead event is not tried again
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), receiver.count());
            auto stored = callbacks(*store, job.id).at(0);
            CPPUNIT_ASSERT_EQUAL(1, stored.attempts);
            CPPUNIT_ASSERT_EQUAL(std::string("HTTP 500"), stored.lastError);
            std::vector<te::LogEntry> logs;
            store->transact([&](te::Tx& tx) { logs = tx.listLogs(job.id, 0); });
            auto it = std::find_if(logs.begin(), logs.end(), [](const te::LogEntry& l) {
                return l.progname == "callback" && l.severity == te::Severity::Error;
            });
            CPPUNIT_ASSERT(it != logs.end());
            CPPUNIT_ASSERT_EQUAL(
                "callback to " + receiver.url() + " abandoned after 1 attempts: HTTP 500",
                it->message);
            CPPUNIT_ASSERT_EQUAL(job.id, it->jobId);
            sender.stop();
        });
    }

    void testSurvivesStoreOutage() {
        eachBackend([](const std::string& dbUrl) {
            RecordingReceiver receiver;
            receiver.setDelay(300ms);
            receiver.start();
            auto real = te::Store::open(dbUrl);
            te::test::FaultyStore store(*real);
            auto config = makeConfig();
            te::CallbackSender sender(store, config);
            store.setDown(true);
            sender.start();
            te::Job job = insertJob(*real, {receiver.url()});
            enqueue(*real, config, job, "m0");
            std::this_thread::sleep_for(500ms);
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), receiver.count());
            CPPUNIT_ASSERT(store.failures() > 0);

            // Back up: delivered. Down again while the request is in flight: the outcome is
            // recorded once the database returns, and the event is not sent twice.
            store.setDown(false);
            CPPUNIT_ASSERT_MESSAGE(dbUrl, waitUntil([&] { return receiver.active() == 1; }, 5s));
            store.setDown(true);
            std::this_thread::sleep_for(800ms);
            store.setDown(false);
            CPPUNIT_ASSERT(waitUntil(
                [&] { return allInState(*real, job.id, 1, CallbackEvent::State::Delivered); },
                10s));
            std::this_thread::sleep_for(200ms);
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), receiver.count());
            sender.stop();
        });
    }

    // The real thing: the PostgreSQL server goes away under a running sender and comes back.
    void testSurvivesPostgresRestart() {
        auto& pg = te::test::PostgresFixture::instance();
        RecordingReceiver receiver;
        receiver.start();
        auto store = te::Store::open(pg.freshDatabase());
        auto config = makeConfig();
        te::CallbackSender sender(*store, config);
        sender.start();
        te::Job job = insertJob(*store, {receiver.url()});
        enqueue(*store, config, job, "before");
        sender.wake();
        CPPUNIT_ASSERT(waitUntil([&] { return receiver.count() == 1; }, 10s));

        pg.stop();
        std::this_thread::sleep_for(700ms);  // the sender polls a dead database meanwhile
        pg.start();
        enqueue(*store, config, job, "after");
        sender.wake();
        CPPUNIT_ASSERT(waitUntil(
            [&] { return allInState(*store, job.id, 2, CallbackEvent::State::Delivered); }, 15s));
        auto requests = receiver.requests();
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), requests.size());
        CPPUNIT_ASSERT_EQUAL(std::string("after"), messageOf(requests[1]));
        sender.stop();
    }

    void testStats() {
        eachBackend([](const std::string& dbUrl) {
            auto store = te::Store::open(dbUrl);
            auto config = makeConfig();
            config.callbacks.threads = 3;
            config.callbacks.backoffBaseMs = 60000;  // one attempt each, then wait a minute
            config.callbacks.backoffMaxMs = 60000;
            te::CallbackSender sender(*store, config);
            CPPUNIT_ASSERT_EQUAL(std::int64_t(3), sender.stats().workers);
            std::string closed = "http://127.0.0.1:" + std::to_string(te::test::freePort()) + "/";
            te::Job a = insertJob(*store, {closed});
            te::Job b = insertJob(*store, {closed});
            for (int i = 0; i < 2; ++i) {
                enqueue(*store, config, a, "a");
                enqueue(*store, config, b, "b");
            }
            sender.start();
            CPPUNIT_ASSERT_MESSAGE(dbUrl,
                                   waitUntil(
                                       [&] {
                                           auto s = sender.stats();
                                           return s.pending == 4 && s.working == 0 &&
                                                  callbacks(*store, a.id).at(0).attempts == 1 &&
                                                  callbacks(*store, b.id).at(0).attempts == 1;
                                       },
                                       5s));
            sender.stop();
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CallbackSenderTest);

}  // namespace
