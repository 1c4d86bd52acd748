// The claim credit rule on its own (server/dispatch/Credit.h). Under load a quick worker's
// reserve fills through offers, so the integration tests rarely see a claim held back until
// half the reserve is free; here each side of that rule is pinned down.
#include <cppunit/extensions/HelperMacros.h>

#include "server/dispatch/Credit.h"

namespace te::test {

using dispatch::claimCredit;

class CreditTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CreditTest);
    CPPUNIT_TEST(testAnIdleSlotClaimsAtOnce);
    CPPUNIT_TEST(testSlowWorkerClaimsOnlyForFreeSlots);
    CPPUNIT_TEST(testBusyWorkerWaitsForHalfItsReserve);
    CPPUNIT_TEST(testSmallReserveRefillsOneByOne);
    CPPUNIT_TEST(testOverheldWorkerClaimsNothing);
    CPPUNIT_TEST_SUITE_END();

public:
    // A slot that has nothing ahead asks for every free place, reserve included, however
    // little of the reserve is free: a worker about to idle must not wait.
    void testAnIdleSlotClaimsAtOnce() {
        CPPUNIT_ASSERT_EQUAL(14, claimCredit(2, 12, 0));
        CPPUNIT_ASSERT_EQUAL(13, claimCredit(2, 12, 1));
        CPPUNIT_ASSERT_EQUAL(1, claimCredit(4, 0, 3));
    }

    // No reserve (tasks above 20 ms): one task per free slot, none once all are busy.
    void testSlowWorkerClaimsOnlyForFreeSlots() {
        CPPUNIT_ASSERT_EQUAL(2, claimCredit(2, 0, 0));
        CPPUNIT_ASSERT_EQUAL(1, claimCredit(2, 0, 1));
        CPPUNIT_ASSERT_EQUAL(0, claimCredit(2, 0, 2));
    }

    // PostgreSQL's reserve, 6 per slot: with every slot busy, a claim waits until at least
    // half of the 12 reserved places are free, then asks for all that are.
    void testBusyWorkerWaitsForHalfItsReserve() {
        CPPUNIT_ASSERT_EQUAL(12, claimCredit(2, 12, 2));
        CPPUNIT_ASSERT_EQUAL(7, claimCredit(2, 12, 7));
        CPPUNIT_ASSERT_EQUAL(6, claimCredit(2, 12, 8));
        CPPUNIT_ASSERT_EQUAL(0, claimCredit(2, 12, 9));
        // An offer needs no statement, so it is of every free place (offerSlots).
        CPPUNIT_ASSERT_EQUAL(5, dispatch::freePlaces(2, 12, 9));
        CPPUNIT_ASSERT_EQUAL(0, claimCredit(2, 12, 13));
        CPPUNIT_ASSERT_EQUAL(0, claimCredit(2, 12, 14));
    }

    // SQLite's reserve, 1 per slot: half of it rounds to at least one place, so each free
    // place is claimed as it frees.
    void testSmallReserveRefillsOneByOne() {
        CPPUNIT_ASSERT_EQUAL(1, claimCredit(2, 2, 3));
        CPPUNIT_ASSERT_EQUAL(2, claimCredit(2, 2, 2));
        CPPUNIT_ASSERT_EQUAL(1, claimCredit(1, 1, 1));
        CPPUNIT_ASSERT_EQUAL(0, claimCredit(1, 1, 2));
    }

    // More held than slots and reserve (the reserve shrank when the worker's tasks slowed
    // down): nothing, never a negative credit.
    void testOverheldWorkerClaimsNothing() {
        CPPUNIT_ASSERT_EQUAL(0, claimCredit(2, 0, 5));
        CPPUNIT_ASSERT_EQUAL(0, claimCredit(2, 12, 20));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CreditTest);

}  // namespace te::test
