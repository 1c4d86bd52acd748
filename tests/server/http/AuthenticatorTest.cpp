// Unit tests of server/http/Authenticator: digests, hex keys, constant-time verify.
#include <cppunit/extensions/HelperMacros.h>

#include "server/http/Authenticator.h"

namespace te::test {

class AuthenticatorTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(AuthenticatorTest);
    CPPUNIT_TEST(testSha256OfKnownText);
    CPPUNIT_TEST(testPlainKey);
    CPPUNIT_TEST(testHashedKeyEitherCase);
    CPPUNIT_TEST(testMalformedHashNeverAuthenticates);
    CPPUNIT_TEST(testUnknownClientAndEmptyKey);
    CPPUNIT_TEST_SUITE_END();

public:
    static ClientConfig client(const std::string& name, const std::string& key,
                               const std::string& sha) {
        ClientConfig c;
        c.name = name;
        c.apiKey = key;
        c.apiKeySha256 = sha;
        return c;
    }

    void testSha256OfKnownText() {
        Authenticator::Digest expected{};
        CPPUNIT_ASSERT(Authenticator::fromHex(
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", expected));
        CPPUNIT_ASSERT(Authenticator::sha256("test") == expected);
        CPPUNIT_ASSERT(Authenticator::sha256("Test") != expected);
    }

    void testPlainKey() {
        Authenticator auth({client("demo", "demo-key", "")});
        CPPUNIT_ASSERT(auth.verify("demo", "demo-key"));
        CPPUNIT_ASSERT(!auth.verify("demo", "demo-kez"));
        CPPUNIT_ASSERT(!auth.verify("demo", "demo-key "));
        CPPUNIT_ASSERT(!auth.verify("Demo", "demo-key"));
    }

    void testHashedKeyEitherCase() {
        Authenticator auth(
            {client("a", "", "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"),
             client("b", "", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")});
        CPPUNIT_ASSERT(auth.verify("a", "test"));
        CPPUNIT_ASSERT(auth.verify("b", "test"));
        CPPUNIT_ASSERT(!auth.verify("a", "tesT"));
        // The digest itself is not the key.
        CPPUNIT_ASSERT(
            !auth.verify("b", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
    }

    void testMalformedHashNeverAuthenticates() {
        Authenticator auth({client("a", "", "9f86d0"), client("b", "", std::string(64, 'g'))});
        CPPUNIT_ASSERT(!auth.verify("a", "test"));
        CPPUNIT_ASSERT(!auth.verify("b", ""));
        Authenticator::Digest d{};
        CPPUNIT_ASSERT(!Authenticator::fromHex(std::string(63, 'a'), d));
    }

    void testUnknownClientAndEmptyKey() {
        Authenticator auth({client("demo", "demo-key", ""), client("nokey", "", "")});
        CPPUNIT_ASSERT(!auth.verify("nobody", "demo-key"));
        CPPUNIT_ASSERT(!auth.verify("demo", ""));
        CPPUNIT_ASSERT(!auth.verify("nokey", ""));
        CPPUNIT_ASSERT(!auth.verify("", ""));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AuthenticatorTest);

}  // namespace te::test
