// Tests of shared/config/ServerConfig.cpp: every key of a full file is read, and each kind of
// mistake gives one "FILE: key: message" line.
#include <cppunit/extensions/HelperMacros.h>

#include "shared/config/ServerConfig.h"
#include "tests/shared/config/ConfigTestUtil.h"

namespace {

using te::test::assertContains;

std::string serverError(const std::string& yaml) {
    return te::test::configError("server.yaml", yaml,
                                 [](const std::string& p) { te::loadServerConfig(p); });
}

class ServerConfigTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ServerConfigTest);
    CPPUNIT_TEST(testFullFile);
    CPPUNIT_TEST(testDefaults);
    CPPUNIT_TEST(testUnknownKey);
    CPPUNIT_TEST(testWrongType);
    CPPUNIT_TEST(testOutOfRange);
    CPPUNIT_TEST(testClients);
    CPPUNIT_TEST(testBadYaml);
    CPPUNIT_TEST(testMissingFile);
    CPPUNIT_TEST_SUITE_END();

public:
    void testFullFile() {
        std::string path = te::test::sourcePath("tests/fixtures/server.yaml");
        te::ServerConfig c = te::loadServerConfig(path);
        CPPUNIT_ASSERT_EQUAL(path, c.file);
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1"), c.http.host);
        CPPUNIT_ASSERT_EQUAL(18080, c.http.port);
        CPPUNIT_ASSERT_EQUAL(8, c.http.threads);
        CPPUNIT_ASSERT_EQUAL(32, c.http.queue);
        CPPUNIT_ASSERT_EQUAL(65536, c.http.maxBodyBytes);
        CPPUNIT_ASSERT_EQUAL(32, c.http.maxJsonDepth);
        CPPUNIT_ASSERT_EQUAL(40, c.http.maxHeaders);
        CPPUNIT_ASSERT_EQUAL(15, c.http.timeoutSec);
        assertContains(c.database, "postgresql://host=127.0.0.1");
        CPPUNIT_ASSERT_EQUAL(std::string("tcp://127.0.0.1:15555"), c.dispatch.bind);
        CPPUNIT_ASSERT_EQUAL(500, c.dispatch.heartbeatMs);
        CPPUNIT_ASSERT_EQUAL(4, c.dispatch.liveness);
        CPPUNIT_ASSERT_EQUAL(20000, c.dispatch.leaseMs);
        CPPUNIT_ASSERT_EQUAL(30, c.dispatch.waitForEndpointsTimeoutSec);
        CPPUNIT_ASSERT_EQUAL(3, c.callbacks.threads);
        CPPUNIT_ASSERT_EQUAL(5, c.callbacks.timeoutSec);
        CPPUNIT_ASSERT_EQUAL(3600, c.callbacks.maxAgeSec);
        CPPUNIT_ASSERT_EQUAL(200, c.callbacks.backoffBaseMs);
        CPPUNIT_ASSERT_EQUAL(60000, c.callbacks.backoffMaxMs);
        CPPUNIT_ASSERT((c.callbacks.allowedHosts ==
                        std::vector<std::string>{"example.com", "callbacks.internal"}));
        CPPUNIT_ASSERT_EQUAL(std::string("X-Signature"), c.callbacks.signatureHeader);
        CPPUNIT_ASSERT_EQUAL(std::string("config/workflows"), c.workflows);
        CPPUNIT_ASSERT_EQUAL(size_t(2), c.clients.size());
        const te::ClientConfig& demo = c.clients[0];
        CPPUNIT_ASSERT_EQUAL(std::string("demo-client"), demo.name);
        CPPUNIT_ASSERT_EQUAL(std::string("demo-key"), demo.apiKey);
        CPPUNIT_ASSERT(demo.apiKeySha256.empty());
        CPPUNIT_ASSERT_EQUAL(std::string("52ec321b-8da3-4f5f-9cd3-749789577cd3"),
                             demo.callbackHeaders.at("Workflow-Id"));
        CPPUNIT_ASSERT((demo.callbackEndpoints ==
                        std::vector<std::string>{"https://example.com/taskenginecallback"}));
        CPPUNIT_ASSERT_EQUAL(std::string("s3cret"), demo.callbackSecret);
        // The hash is stored lower-case, whatever case the file uses.
        CPPUNIT_ASSERT_EQUAL(
            std::string("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
            c.clients[1].apiKeySha256);
        CPPUNIT_ASSERT(c.clients[1].apiKey.empty());
        CPPUNIT_ASSERT_EQUAL(std::string("2"), c.settings.at("max_jobs"));
        CPPUNIT_ASSERT_EQUAL(std::string("3"), c.settings.at("retry_limit"));
        CPPUNIT_ASSERT_EQUAL(size_t(6), c.settings.size());
        CPPUNIT_ASSERT_EQUAL(std::string("debug"), c.logLevel);
        CPPUNIT_ASSERT_EQUAL(std::string("var/log/server.log"), c.logFile);
    }

    void testDefaults() {
        te::ServerConfig c = te::parseServerConfig("", "empty.yaml");
        CPPUNIT_ASSERT_EQUAL(8080, c.http.port);
        CPPUNIT_ASSERT_EQUAL(std::string("sqlite3://db=var/taskengine.db"), c.database);
        CPPUNIT_ASSERT_EQUAL(std::string("tcp://*:5555"), c.dispatch.bind);
        CPPUNIT_ASSERT_EQUAL(std::string("config/workflows"), c.workflows);
        CPPUNIT_ASSERT(c.clients.empty());
    }

    void testUnknownKey() {
        CPPUNIT_ASSERT_EQUAL(std::string("databse: unknown key"), serverError("databse: x\n"));
        CPPUNIT_ASSERT_EQUAL(std::string("http.prot: unknown key"),
                             serverError("http: {prot: 80}\n"));
        CPPUNIT_ASSERT_EQUAL(std::string("clients[0].apikey: unknown key"),
                             serverError("clients:\n  - {name: a, apikey: k}\n"));
    }

    void testWrongType() {
        CPPUNIT_ASSERT_EQUAL(std::string("http.port: must be an integer, got 'eighty'"),
                             serverError("http: {port: eighty}\n"));
        CPPUNIT_ASSERT_EQUAL(std::string("http: must be a mapping"), serverError("http: 8080\n"));
        CPPUNIT_ASSERT_EQUAL(std::string("database: must be a string"),
                             serverError("database: [a, b]\n"));
        CPPUNIT_ASSERT_EQUAL(std::string("clients: must be a list"),
                             serverError("clients: {name: a}\n"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("database: expected sqlite3://db=PATH or postgresql://..., got "
                        "'sqlite:///var/te.db'"),
            serverError("database: sqlite:///var/te.db\n"));
    }

    void testOutOfRange() {
        CPPUNIT_ASSERT_EQUAL(std::string("http.port: must be between 0 and 65535, got 70000"),
                             serverError("http: {port: 70000}\n"));
        assertContains(serverError("dispatch: {heartbeat_ms: 1}\n"),
                       "dispatch.heartbeat_ms: must be between");
        assertContains(serverError("callbacks: {threads: 0}\n"),
                       "callbacks.threads: must be between 1 and 64");
    }

    void testClients() {
        CPPUNIT_ASSERT_EQUAL(
            std::string("clients[0]: needs exactly one of api_key and api_key_sha256"),
            serverError("clients:\n  - {name: a}\n"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("clients[0]: needs exactly one of api_key and api_key_sha256"),
            serverError("clients:\n  - {name: a, api_key: k, api_key_sha256: " +
                        std::string(64, 'a') + "}\n"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("clients[1].api_key_sha256: must be 64 hexadecimal digits"),
            serverError("clients:\n  - {name: a, api_key: k}\n"
                        "  - {name: b, api_key_sha256: abc123}\n"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("clients[0].api_key_sha256: must be 64 hexadecimal digits"),
            serverError("clients:\n  - {name: a, api_key_sha256: " + std::string(63, 'a') +
                        "g}\n"));
        CPPUNIT_ASSERT_EQUAL(std::string("clients[0].name: is required"),
                             serverError("clients:\n  - {api_key: k}\n"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("clients[1].name: duplicate client 'a'"),
            serverError("clients:\n  - {name: a, api_key: k}\n  - {name: a, api_key: j}\n"));
    }

    void testBadYaml() {
        std::string e = serverError("http:\n  port: [8080\n");
        assertContains(e, "line ");
        assertContains(e, "column ");
    }

    void testMissingFile() {
        try {
            te::loadServerConfig("/nonexistent/server.yaml");
            CPPUNIT_FAIL("no exception");
        } catch (const te::ConfigError& e) {
            CPPUNIT_ASSERT_EQUAL(std::string("/nonexistent/server.yaml: cannot be read"),
                                 std::string(e.what()));
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ServerConfigTest);

}  // namespace
