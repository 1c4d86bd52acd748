// JobWaits, the registry behind GET /jobs/<id>?wait=: who is woken, the cap, the stop.
#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <future>
#include <memory>

#include "server/http/JobWaits.h"

namespace te::test {

using namespace std::chrono_literals;

class JobWaitsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(JobWaitsTest);
    CPPUNIT_TEST(testAnEndWakesTheWaitsOfItsJobOnly);
    CPPUNIT_TEST(testAnEndAfterTheRegistrationIsNotMissed);
    CPPUNIT_TEST(testAtMostMaxWaitingWait);
    CPPUNIT_TEST(testStopEndsEveryWait);
    CPPUNIT_TEST_SUITE_END();

    using Clock = JobWaits::Clock;

public:
    void testAnEndWakesTheWaitsOfItsJobOnly() {
        JobWaits waits(8);
        JobWaits::Waiter one(waits, 1), alsoOne(waits, 1), two(waits, 2);
        auto first =
            std::async(std::launch::async, [&] { return one.waitUntil(Clock::now() + 10s); });
        auto second =
            std::async(std::launch::async, [&] { return alsoOne.waitUntil(Clock::now() + 10s); });
        CPPUNIT_ASSERT(first.wait_for(100ms) == std::future_status::timeout);
        waits.ended({3, 1});
        CPPUNIT_ASSERT(first.wait_for(5s) == std::future_status::ready);
        CPPUNIT_ASSERT(second.wait_for(5s) == std::future_status::ready);
        CPPUNIT_ASSERT(first.get());
        CPPUNIT_ASSERT(second.get());
        const auto before = Clock::now();
        CPPUNIT_ASSERT(!two.waitUntil(Clock::now() + 100ms));
        CPPUNIT_ASSERT(Clock::now() - before >= 90ms);
    }

    void testAnEndAfterTheRegistrationIsNotMissed() {
        JobWaits waits(8);
        waits.ended({5});  // before anyone waited for 5: says nothing about a later wait
        JobWaits::Waiter late(waits, 5);
        CPPUNIT_ASSERT(!late.waitUntil(Clock::now() + 20ms));
        // Reported between the registration and the wait (the caller was reading the job).
        waits.ended({5});
        const auto before = Clock::now();
        CPPUNIT_ASSERT(late.waitUntil(Clock::now() + 10s));
        CPPUNIT_ASSERT(Clock::now() - before < 1s);
    }

    void testAtMostMaxWaitingWait() {
        JobWaits waits(2);
        auto a = std::make_unique<JobWaits::Waiter>(waits, 1);
        JobWaits::Waiter b(waits, 1);
        JobWaits::Waiter c(waits, 2);
        CPPUNIT_ASSERT(a->registered());
        CPPUNIT_ASSERT(b.registered());
        CPPUNIT_ASSERT(!c.registered());
        CPPUNIT_ASSERT(!c.waitUntil(Clock::now() + 10s));  // answers at once
        a.reset();
        JobWaits::Waiter d(waits, 2);
        CPPUNIT_ASSERT(d.registered());
        waits.ended({2});
        CPPUNIT_ASSERT(d.waitUntil(Clock::now() + 10s));
    }

    void testStopEndsEveryWait() {
        JobWaits waits(8);
        JobWaits::Waiter one(waits, 1);
        auto waiting =
            std::async(std::launch::async, [&] { return one.waitUntil(Clock::now() + 30s); });
        CPPUNIT_ASSERT(waiting.wait_for(100ms) == std::future_status::timeout);
        waits.stop();
        CPPUNIT_ASSERT(waiting.wait_for(5s) == std::future_status::ready);
        CPPUNIT_ASSERT(!waiting.get());  // the job did not end
        JobWaits::Waiter after(waits, 1);
        CPPUNIT_ASSERT(!after.registered());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(JobWaitsTest);

}  // namespace te::test
