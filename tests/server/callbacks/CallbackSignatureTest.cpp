// Tests of server/callbacks/CallbackSignature.cpp and CallbackRetry.cpp: the signature matches
// an independent HMAC-SHA256 (Python's), and the backoff grows, caps and jitters.
#include <cppunit/extensions/HelperMacros.h>

#include "server/callbacks/CallbackRetry.h"
#include "server/callbacks/CallbackSignature.h"

namespace {

class CallbackSignatureTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CallbackSignatureTest);
    CPPUNIT_TEST(testKnownVector);
    CPPUNIT_TEST(testHeaderRoundTrip);
    CPPUNIT_TEST(testVerifyRejects);
    CPPUNIT_TEST(testBackoff);
    CPPUNIT_TEST(testLogFailureIsBounded);
    CPPUNIT_TEST_SUITE_END();

public:
    void testKnownVector() {
        // hmac.new(b"key", b"1.{}", hashlib.sha256).hexdigest(), from Python's hmac module:
        // what a receiver following docs/callbacks.md computes.
        CPPUNIT_ASSERT_EQUAL(
            std::string("1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"),
            te::CallbackSignature::digest("key", 1, "{}"));
    }

    void testHeaderRoundTrip() {
        std::string body = R"({"job_id":1,"event":"start"})";
        std::string h = te::CallbackSignature::header("s3cret", 1700000000, body);
        CPPUNIT_ASSERT_EQUAL(0, static_cast<int>(h.find("t=1700000000,v1=")));
        CPPUNIT_ASSERT_EQUAL(std::size_t(16 + 64), h.size());
        CPPUNIT_ASSERT(te::CallbackSignature::verify(h, "s3cret", body, 1700000100));
    }

    void testVerifyRejects() {
        std::string body = "{}";
        std::string h = te::CallbackSignature::header("s3cret", 1700000000, body);
        CPPUNIT_ASSERT(!te::CallbackSignature::verify(h, "other", body, 1700000000));
        CPPUNIT_ASSERT(!te::CallbackSignature::verify(h, "s3cret", "{ }", 1700000000));
        CPPUNIT_ASSERT(!te::CallbackSignature::verify(h, "s3cret", body, 1700000000 + 301));
        CPPUNIT_ASSERT(!te::CallbackSignature::verify("t=x,v1=00", "s3cret", body, 0));
        CPPUNIT_ASSERT(!te::CallbackSignature::verify("", "s3cret", body, 0));
    }

    void testBackoff() {
        te::CallbackConfig c;
        c.backoffBaseMs = 1000;
        c.backoffMaxMs = 10000;
        CPPUNIT_ASSERT_EQUAL(te::TimeMs(1000), te::CallbackRetry::delayMs(c, 1, 0.5));
        CPPUNIT_ASSERT_EQUAL(te::TimeMs(2000), te::CallbackRetry::delayMs(c, 2, 0.5));
        CPPUNIT_ASSERT_EQUAL(te::TimeMs(8000), te::CallbackRetry::delayMs(c, 4, 0.5));
        CPPUNIT_ASSERT_EQUAL(te::TimeMs(10000), te::CallbackRetry::delayMs(c, 5, 0.5));
        CPPUNIT_ASSERT_EQUAL(te::TimeMs(10000), te::CallbackRetry::delayMs(c, 100000, 0.5));
        CPPUNIT_ASSERT_EQUAL(te::TimeMs(800), te::CallbackRetry::delayMs(c, 1, 0.0));
        CPPUNIT_ASSERT_EQUAL(te::TimeMs(12000), te::CallbackRetry::delayMs(c, 9, 1.0));
    }

    void testLogFailureIsBounded() {
        int logged = 0;
        for (int a = 1; a <= 300; ++a) logged += te::CallbackRetry::logFailure(a) ? 1 : 0;
        CPPUNIT_ASSERT_EQUAL(3 + 30, logged);
        CPPUNIT_ASSERT(te::CallbackRetry::logFailure(1));
        CPPUNIT_ASSERT(!te::CallbackRetry::logFailure(4));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CallbackSignatureTest);

}  // namespace
