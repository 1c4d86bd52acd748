// Offers (EngineImpl::Hooks::takeOffer): a transaction that makes a task puts it straight
// into an idle worker's offered slot, on a real store (both backends). The offers come from
// a stand-in for the dispatcher's side, which hands out a given number of slots of one worker.
#include <cppunit/extensions/HelperMacros.h>

#include <stdexcept>

#include "tests/server/engine/EngineRig.h"

namespace te::test {
namespace {

// The dispatcher's half of offers, as the engine sees it: `open` slots of one worker, for
// the queue "work"; what was taken, given back and sent.
struct Offers {
    std::string worker = "w1";
    int open = 0;
    std::vector<std::pair<std::string, std::string>> asked;  // (queue, target worker)
    int returned = 0;
    std::vector<OfferedTask> sent;
    int wakes = 0;

    void install(Rig& rig, EngineImpl::Hooks hooks = {}) {
        hooks.takeOffer = [this](const std::string& queue, const std::string& target) {
            asked.emplace_back(queue, target);
            if (open == 0 || queue != "work" || (!target.empty() && target != worker)) {
                return std::optional<WorkerOffer>();
            }
            --open;
            return std::optional<WorkerOffer>(WorkerOffer{"rid-" + worker, worker});
        };
        hooks.returnOffer = [this](const WorkerOffer& offer) {
            CPPUNIT_ASSERT_EQUAL(worker, offer.worker);
            ++returned;
            ++open;
        };
        hooks.tasksOffered = [this](std::vector<OfferedTask> tasks) {
            for (auto& t : tasks) sent.push_back(std::move(t));
        };
        hooks.tasksReady = [this] { ++wakes; };
        rig.engine->setHooks(hooks);
        // The counts are kept from here on, as the server does at its start: offers are
        // taken only where they tell that nothing older waits.
        rig.store->stateCounts();
    }
};

Task taskOf(Rig& rig, std::int64_t job, int stage = 0) {
    std::vector<Task> found;
    rig.store->transact([&](Tx& tx) {
        for (const Task& t : tx.listTasks(job)) {
            if (t.stage == stage) found.push_back(t);
        }
    });
    CPPUNIT_ASSERT_EQUAL(size_t(1), found.size());
    return found[0];
}

}  // namespace

class OffersTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(OffersTest);
    CPPUNIT_TEST(testNewTaskTakesAnOfferedSlot);
    CPPUNIT_TEST(testNoOfferPassesAnOlderTask);
    CPPUNIT_TEST(testNoOfferWhileTheCountsAreUnknown);
    CPPUNIT_TEST(testTargetedTaskTakesOnlyItsWorkersSlot);
    CPPUNIT_TEST(testRolledBackTransactionGivesItsOfferBack);
    CPPUNIT_TEST_SUITE_END();

public:
    // The task is committed assigned to the offered worker, with its lease, and handed to the
    // dispatcher after the commit instead of waking it for a claim. Its worker's events then
    // run it as any claimed task.
    void testNewTaskTakesAnOfferedSlot() {
        forEachBackend([](const std::string& url) {
            Rig rig(url);
            Offers offers;
            offers.install(rig);
            offers.open = 1;
            const TimeMs before = nowMs();
            const std::int64_t job = rig.engine->submit(Rig::submission());
            CPPUNIT_ASSERT_EQUAL(size_t(1), offers.asked.size());
            CPPUNIT_ASSERT(offers.asked[0] == std::make_pair(std::string("work"), std::string()));
            CPPUNIT_ASSERT_EQUAL(0, offers.wakes);
            CPPUNIT_ASSERT_EQUAL(size_t(1), offers.sent.size());
            const Task task = taskOf(rig, job);
            CPPUNIT_ASSERT(task.state == TaskState::Assigned);
            CPPUNIT_ASSERT_EQUAL(std::string("w1"), task.worker);
            CPPUNIT_ASSERT(task.leaseUntil >= before + 30000);
            CPPUNIT_ASSERT_EQUAL(task.id, offers.sent[0].task.id);
            CPPUNIT_ASSERT_EQUAL(std::string("rid-w1"), offers.sent[0].offer.routingId);
            CPPUNIT_ASSERT(offers.sent[0].task.state == TaskState::Assigned);
            CPPUNIT_ASSERT_EQUAL(std::string("w1"), offers.sent[0].task.worker);

            rig.engine->applyWorkerEvents({Rig::event(WorkerEvent::Kind::Started, task.id),
                                           Rig::event(WorkerEvent::Kind::Done, task.id)});
            rig.checkRecorded(job, task.id);

            // No slot left: queued, and the dispatcher woken to claim it.
            const std::int64_t next = rig.engine->submit(Rig::submission());
            CPPUNIT_ASSERT(taskOf(rig, next).state == TaskState::Queued);
            CPPUNIT_ASSERT_EQUAL(1, offers.wakes);
            CPPUNIT_ASSERT_EQUAL(size_t(1), offers.sent.size());
            CPPUNIT_ASSERT_EQUAL(0, offers.returned);
        });
    }

    // A free slot goes to the queue's oldest task, through a claim: a new one does not take
    // it while another task of its queue waits.
    void testNoOfferPassesAnOlderTask() {
        forEachBackend([](const std::string& url) {
            Rig rig(url);
            Offers offers;
            offers.install(rig);
            const std::int64_t older = rig.engine->submit(Rig::submission());
            CPPUNIT_ASSERT(taskOf(rig, older).state == TaskState::Queued);
            offers.open = 1;
            offers.asked.clear();
            const std::int64_t newer = rig.engine->submit(Rig::submission());
            CPPUNIT_ASSERT(offers.asked.empty());
            CPPUNIT_ASSERT(taskOf(rig, newer).state == TaskState::Queued);
            CPPUNIT_ASSERT(offers.sent.empty());
            CPPUNIT_ASSERT_EQUAL(2, offers.wakes);
            rig.store->transact([&](Tx& tx) {
                auto claimed = tx.claimTasks({"work"}, "w1", 1, nowMs(), nowMs() + 60000);
                CPPUNIT_ASSERT_EQUAL(size_t(1), claimed.size());
                CPPUNIT_ASSERT_EQUAL(older, claimed[0].jobId);
            });
        });
    }

    // Counts not kept (here never read; in the server, after a change it could not count):
    // whether older tasks wait is unknown, so no offer is taken.
    void testNoOfferWhileTheCountsAreUnknown() {
        forEachBackend([](const std::string& url) {
            Rig rig(url);
            EngineImpl::Hooks hooks;
            int asked = 0;
            hooks.takeOffer = [&](const std::string&, const std::string&) {
                ++asked;
                return std::optional<WorkerOffer>(WorkerOffer{"rid-w1", "w1"});
            };
            rig.engine->setHooks(hooks);
            const std::int64_t job = rig.engine->submit(Rig::submission());
            CPPUNIT_ASSERT_EQUAL(0, asked);
            CPPUNIT_ASSERT(taskOf(rig, job).state == TaskState::Queued);
        });
    }

    // A broadcast's copies name their workers: each takes only its own worker's slot.
    void testTargetedTaskTakesOnlyItsWorkersSlot() {
        forEachBackend([](const std::string& url) {
            Rig rig(url);
            Offers offers;
            offers.worker = "w2";
            EngineImpl::Hooks hooks;
            hooks.liveWorkers = [] {
                return std::vector<WorkerSnapshot>{{"w1", {"work"}, 1, 0}, {"w2", {"work"}, 1, 0}};
            };
            offers.install(rig, hooks);
            offers.open = 2;
            Submission everywhere = Rig::submission();
            everywhere.workflow = "broadcast";
            everywhere.parameters->set("log", "/dev/null");
            const std::int64_t job = rig.engine->submit(everywhere);
            std::vector<Task> tasks;
            rig.store->transact([&](Tx& tx) { tasks = tx.listTasks(job); });
            CPPUNIT_ASSERT_EQUAL(size_t(2), tasks.size());
            for (const Task& t : tasks) {
                if (t.targetWorker == "w2") {
                    CPPUNIT_ASSERT(t.state == TaskState::Assigned);
                    CPPUNIT_ASSERT_EQUAL(std::string("w2"), t.worker);
                } else {
                    CPPUNIT_ASSERT_EQUAL(std::string("w1"), t.targetWorker);
                    CPPUNIT_ASSERT(t.state == TaskState::Queued);
                }
            }
            CPPUNIT_ASSERT_EQUAL(1, offers.open);
            CPPUNIT_ASSERT_EQUAL(size_t(1), offers.sent.size());
            CPPUNIT_ASSERT_EQUAL(1, offers.wakes);  // for w1's copy
        });
    }

    // A result whose transaction fails after it took an offer for the next stage's task (here
    // the dispatcher's claim in the same transaction throws) gives the offer back and sends
    // nothing; stored again, it takes it again.
    void testRolledBackTransactionGivesItsOfferBack() {
        forEachBackend([](const std::string& url) {
            Rig rig(url);
            Offers offers;
            offers.install(rig);
            Submission chain = Rig::submission();
            chain.workflow = "noop-chain";
            const std::int64_t job = rig.engine->submit(chain);
            Task first = taskOf(rig, job, 0);
            rig.store->transact([&](Tx& tx) {
                CPPUNIT_ASSERT_EQUAL(
                    size_t(1), tx.claimTasks({"work"}, "w1", 1, nowMs(), nowMs() + 60000).size());
            });
            offers.open = 1;
            const auto done = Rig::event(WorkerEvent::Kind::Done, first.id);
            CPPUNIT_ASSERT_THROW(
                rig.engine->applyWorkerEvents(
                    {done}, [](Tx&, bool) { throw std::runtime_error("claim failed"); }),
                std::runtime_error);
            CPPUNIT_ASSERT_EQUAL(1, offers.returned);
            CPPUNIT_ASSERT_EQUAL(1, offers.open);
            CPPUNIT_ASSERT(offers.sent.empty());
            CPPUNIT_ASSERT(taskOf(rig, job, 0).state == TaskState::Assigned);

            rig.engine->applyWorkerEvents({done});
            CPPUNIT_ASSERT(taskOf(rig, job, 0).state == TaskState::Completed);
            const Task second = taskOf(rig, job, 1);
            CPPUNIT_ASSERT(second.state == TaskState::Assigned);
            CPPUNIT_ASSERT_EQUAL(size_t(1), offers.sent.size());
            CPPUNIT_ASSERT_EQUAL(second.id, offers.sent[0].task.id);
            CPPUNIT_ASSERT_EQUAL(0, offers.open);
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(OffersTest);

}  // namespace te::test
