// Conformance: jobs (insert, find, update, GET /jobs filters and ordering, admission order).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include "server/store/Migrations.h"
#include "server/store/SqlQuery.h"
#include "shared/Errors.h"
#include "tests/server/store/StoreTestSupport.h"

namespace te::test {
namespace {

std::vector<Job> list(Store& store, const JobFilter& filter) {
    std::vector<Job> jobs;
    store.transact([&](Tx& tx) { jobs = tx.listJobs(filter); });
    return jobs;
}

}  // namespace

class StoreJobsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StoreJobsTest);
    CPPUNIT_TEST(testInsertFindUpdate);
    CPPUNIT_TEST(testUpdateWritesOnlyWhatChanged);
    CPPUNIT_TEST(testFilters);
    CPPUNIT_TEST(testRareFiltersReadTheirPartialIndexes);
    CPPUNIT_TEST(testOrdering);
    CPPUNIT_TEST(testAdmissionOrderAndCounts);
    CPPUNIT_TEST(testStartedCountFollowsEveryCommit);
    CPPUNIT_TEST(testStartedCountHoldsWithWritersSideBySide);
    CPPUNIT_TEST(testQueueFollowsEveryCommit);
    CPPUNIT_TEST(testQueueHoldsWithWritersSideBySide);
    CPPUNIT_TEST(testQueuedJobsSeeTheTransactionsOwnChanges);
    CPPUNIT_TEST_SUITE_END();

public:
    // updateJob sets only the columns this transaction changed: a change another connection
    // committed meanwhile to a column this one did not touch survives (PostgreSQL, where
    // transactions run side by side). Every field still round-trips.
    void testUpdateWritesOnlyWhatChanged() {
        auto store = Store::open(PostgresFixture::instance().freshDatabase());
        const std::int64_t id = addJob(*store, makeJob("c", 5));
        store->transact([&](Tx& tx) {
            auto job = tx.findJob(id);
            auto other = std::async(std::launch::async, [&] {
                store->transact([&](Tx& tx2) {
                    auto same = tx2.findJob(id);
                    same->priority = 1;
                    tx2.updateJob(*same);
                });
            });
            other.get();
            job->message = "mine";
            job->state = JobState::Started;
            job->startedAt = 1234;
            tx.updateJob(*job);
        });
        store->read([&](Tx& tx) {
            auto job = tx.findJob(id);
            CPPUNIT_ASSERT_EQUAL(1, job->priority);  // theirs
            CPPUNIT_ASSERT_EQUAL(std::string("mine"), job->message);
            CPPUNIT_ASSERT(job->state == JobState::Started);
            CPPUNIT_ASSERT_EQUAL(TimeMs(1234), job->startedAt);
        });
        // A row the transaction never read gets every column.
        Job blind = makeJob("c", 7);
        blind.id = id;
        blind.message = "blind";
        store->transact([&](Tx& tx) { tx.updateJob(blind); });
        store->read([&](Tx& tx) {
            auto job = tx.findJob(id);
            CPPUNIT_ASSERT_EQUAL(7, job->priority);
            CPPUNIT_ASSERT_EQUAL(std::string("blind"), job->message);
            CPPUNIT_ASSERT(job->state == JobState::Queued);
        });
    }

    void testInsertFindUpdate() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            Job job = makeJob("demo-client", 3);
            job.contentId = "content-1";
            job.persist = true;
            job.semaphoreUrl = "http://sem/ok";
            const TimeMs before = nowMs();
            store->transact([&](Tx& tx) { CPPUNIT_ASSERT(tx.insertJob(job) > 0); });
            CPPUNIT_ASSERT(job.id > 0);
            CPPUNIT_ASSERT(job.createdAt >= before);
            CPPUNIT_ASSERT_EQUAL(job.createdAt, job.updatedAt);
            CPPUNIT_ASSERT_EQUAL(job.createdAt, job.runAt);

            std::optional<Job> found;
            store->transact([&](Tx& tx) { found = tx.findJob(job.id); });
            CPPUNIT_ASSERT(found);
            CPPUNIT_ASSERT_EQUAL(std::string("demo-client"), found->client);
            CPPUNIT_ASSERT_EQUAL(std::string("transcode"), found->workflow);
            CPPUNIT_ASSERT_EQUAL(3, found->priority);
            CPPUNIT_ASSERT_EQUAL(job.parameters, found->parameters);
            CPPUNIT_ASSERT_EQUAL(std::string("content-1"), found->contentId);
            CPPUNIT_ASSERT(found->state == JobState::Queued);
            CPPUNIT_ASSERT(!found->failed);
            CPPUNIT_ASSERT(found->persist);
            CPPUNIT_ASSERT_EQUAL(std::string("http://sem/ok"), found->semaphoreUrl);
            CPPUNIT_ASSERT_EQUAL(-1, found->stage);
            CPPUNIT_ASSERT_EQUAL(job.createdAt, found->createdAt);
            CPPUNIT_ASSERT_EQUAL(TimeMs(0), found->startedAt);

            // An explicit createdAt and runAt are kept.
            Job scheduled = makeJob("demo-client");
            scheduled.createdAt = 1000;
            scheduled.runAt = 5000;
            scheduled.state = JobState::Scheduled;
            addJob(*store, scheduled);
            store->transact([&](Tx& tx) { found = tx.findJob(scheduled.id); });
            CPPUNIT_ASSERT(found);
            if (found) {
                CPPUNIT_ASSERT_EQUAL(TimeMs(1000), found->createdAt);
                CPPUNIT_ASSERT_EQUAL(TimeMs(5000), found->runAt);
                CPPUNIT_ASSERT(found->state == JobState::Scheduled);
            }

            Job changed = job;
            changed.client = "someone-else";  // not mutable: ignored
            changed.state = JobState::Completed;
            changed.failed = true;
            changed.persist = false;
            changed.priority = 9;
            changed.context = R"({"a":1})";
            changed.message = "boom";
            changed.stage = 2;
            changed.startedAt = 111;
            changed.finishedAt = 222;
            changed.runAt = 333;
            store->transact([&](Tx& tx) { tx.updateJob(changed); });
            CPPUNIT_ASSERT(changed.updatedAt >= job.updatedAt);
            store->transact([&](Tx& tx) { found = tx.findJob(job.id); });
            CPPUNIT_ASSERT_EQUAL(std::string("demo-client"), found->client);
            CPPUNIT_ASSERT(found->state == JobState::Completed);
            CPPUNIT_ASSERT(found->failed);
            CPPUNIT_ASSERT(!found->persist);
            CPPUNIT_ASSERT_EQUAL(9, found->priority);
            CPPUNIT_ASSERT_EQUAL(std::string(R"({"a":1})"), found->context);
            CPPUNIT_ASSERT_EQUAL(std::string("boom"), found->message);
            CPPUNIT_ASSERT_EQUAL(2, found->stage);
            CPPUNIT_ASSERT_EQUAL(TimeMs(111), found->startedAt);
            CPPUNIT_ASSERT_EQUAL(TimeMs(222), found->finishedAt);
            CPPUNIT_ASSERT_EQUAL(TimeMs(333), found->runAt);
            CPPUNIT_ASSERT_EQUAL(changed.updatedAt, found->updatedAt);

            store->transact([&](Tx& tx) { CPPUNIT_ASSERT(!tx.findJob(987654)); });
            Job ghost = makeJob("x");
            ghost.id = 987654;
            CPPUNIT_ASSERT_THROW(store->transact([&](Tx& tx) { tx.updateJob(ghost); }),
                                 NotFoundError);
        });
    }

    void testFilters() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            // a: queued, client A, created 1000, content x, persist
            // b: completed failed, client A, created 2000
            // c: completed ok, client B, created 3000, content x
            // d: started, client B, created 4000
            Job a = makeJob("A");
            a.createdAt = 1000;
            a.contentId = "x";
            a.persist = true;
            Job b = makeJob("A");
            b.createdAt = 2000;
            b.state = JobState::Completed;
            b.failed = true;
            Job c = makeJob("B");
            c.createdAt = 3000;
            c.state = JobState::Completed;
            c.contentId = "x";
            Job d = makeJob("B");
            d.createdAt = 4000;
            d.state = JobState::Started;
            // A failed flag on a job that is not completed does not count as failed.
            Job e = makeJob("C");
            e.createdAt = 5000;
            e.state = JobState::Broken;
            e.failed = true;
            for (Job* j : {&a, &b, &c, &d, &e}) addJob(*store, *j);

            JobFilter all;
            CPPUNIT_ASSERT(Ids({e.id, d.id, c.id, b.id, a.id}) == idsOf(list(*store, all)));
            JobFilter f;
            f.limit = 2;
            CPPUNIT_ASSERT(Ids({e.id, d.id}) == idsOf(list(*store, f)));

            f = {};
            f.states = {JobState::Completed};
            CPPUNIT_ASSERT(Ids({c.id, b.id}) == idsOf(list(*store, f)));
            f.states = {JobState::Queued, JobState::Started};
            CPPUNIT_ASSERT(Ids({d.id, a.id}) == idsOf(list(*store, f)));

            f = {};
            f.from = 2000;
            f.to = 3000;
            CPPUNIT_ASSERT(Ids({c.id, b.id}) == idsOf(list(*store, f)));
            f.to.reset();
            CPPUNIT_ASSERT(Ids({e.id, d.id, c.id, b.id}) == idsOf(list(*store, f)));

            f = {};
            f.failed = true;
            CPPUNIT_ASSERT(Ids({b.id}) == idsOf(list(*store, f)));
            f.failed = false;
            CPPUNIT_ASSERT(Ids({d.id, c.id, a.id}) == idsOf(list(*store, f)));
            f.failed = true;
            f.states = {JobState::Started};
            CPPUNIT_ASSERT(list(*store, f).empty());

            f = {};
            f.search = "x";
            CPPUNIT_ASSERT(Ids({c.id, a.id}) == idsOf(list(*store, f)));
            f.search = "X";  // exact, not case-folded or partial
            CPPUNIT_ASSERT(list(*store, f).empty());

            f = {};
            f.jobIds = {a.id, d.id, 424242};
            CPPUNIT_ASSERT(Ids({d.id, a.id}) == idsOf(list(*store, f)));

            f = {};
            f.client = "B";
            CPPUNIT_ASSERT(Ids({d.id, c.id}) == idsOf(list(*store, f)));

            f = {};
            f.persist = true;
            CPPUNIT_ASSERT(Ids({a.id}) == idsOf(list(*store, f)));
            f.persist = false;
            CPPUNIT_ASSERT(Ids({e.id, d.id, c.id, b.id}) == idsOf(list(*store, f)));

            // Filters combine with AND.
            f = {};
            f.client = "A";
            f.states = {JobState::Completed};
            f.search = "";
            CPPUNIT_ASSERT(Ids({b.id}) == idsOf(list(*store, f)));
        });
    }

    // The search and persist=1 filters find their few jobs through partial indexes that hold
    // only those (migration 8). A planner uses such an index only for a query that states
    // its condition: PostgreSQL's generic plan cannot tell `content_id = $1` from an empty
    // content id, so listJobs repeats kContentJobTerm. Checked on each backend's plan of the
    // filters as listJobs words them, over 20,000 jobs of which a few match.
    void testRareFiltersReadTheirPartialIndexes() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            auto db = openConnection(url);
            const bool postgres = db->dialect() == store::Dialect::Postgres;
            const std::string rows =
                postgres ? "SELECT i FROM generate_series(1, 20000) AS n(i)"
                         : "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                           " WHERE i < 20000) SELECT i FROM n";
            store::SqlQuery(db->session())
                .run(
                    "INSERT INTO jobs (client, workflow, parameters, headers, context,"
                    " content_id, persist, created_at, updated_at) SELECT 'c', 'w', '{}', '{}',"
                    " '{}', CASE WHEN i % 5000 = 0 THEN 'needle' ELSE '' END,"
                    " CASE WHEN i % 7000 = 0 THEN 1 ELSE 0 END, i, i FROM (" +
                    rows + ") AS r");
            store::SqlQuery(db->session()).run("ANALYZE");
            const std::string search =
                std::string("content_id = :search AND ") + store::kContentJobTerm;
            const std::string persisted = store::kPersistedJobTerm;
            auto plan = [&](const std::string& where, bool bound) {
                const std::string select =
                    "SELECT id FROM jobs WHERE " + where + " ORDER BY id DESC LIMIT 10";
                if (postgres) {
                    // The plan every later run of a prepared statement may settle on.
                    std::string all, line;
                    std::string prepared = select;
                    if (bound) prepared.replace(prepared.find(":search"), 7, "$1");
                    store::SqlQuery(db->session()).run("SET plan_cache_mode = force_generic_plan");
                    store::SqlQuery(db->session())
                        .run("PREPARE filtered" + std::string(bound ? " (text)" : "") + " AS " +
                             prepared);
                    store::SqlQuery query(db->session());
                    query.into(line);
                    const std::string args = bound ? " ('needle')" : "";
                    for (bool row = query.run("EXPLAIN EXECUTE filtered" + args); row;
                         row = query.next()) {
                        all += line + "; ";
                    }
                    store::SqlQuery(db->session()).run("DEALLOCATE filtered");
                    return all;
                }
                std::string sql = select;
                if (bound) sql.replace(sql.find(":search"), 7, "'needle'");
                return sqlitePlan(db->session(), sql);
            };
            const std::string byContent = plan(search, true);
            CPPUNIT_ASSERT_MESSAGE(byContent, byContent.find("jobs_content") != std::string::npos);
            const std::string byPersist = plan(persisted, false);
            CPPUNIT_ASSERT_MESSAGE(byPersist,
                                   byPersist.find("jobs_persisted") != std::string::npos);
            // And they find the jobs.
            JobFilter f;
            f.search = "needle";
            CPPUNIT_ASSERT_EQUAL(size_t(4), list(*store, f).size());
            f = {};
            f.persist = true;
            CPPUNIT_ASSERT_EQUAL(size_t(2), list(*store, f).size());
        });
    }

    void testOrdering() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            const std::vector<std::string> clients = {"c", "a", "d", "b"};
            const std::vector<int> priorities = {4, 2, 2, 7};
            for (size_t i = 0; i < clients.size(); ++i) {
                Job j = makeJob(clients[i], priorities[i]);
                j.workflow = "w" + std::to_string(3 - i);
                j.createdAt = 1000 + 10 * static_cast<TimeMs>((i * 7) % 4);
                j.runAt = 5000 - static_cast<TimeMs>(i);
                j.state = static_cast<JobState>(i % 3);
                j.failed = i == 2;
                addJob(*store, j);
            }
            for (const std::string& column : Store::sortableJobColumns()) {
                for (bool asc : {true, false}) {
                    JobFilter f;
                    f.orderBy = column;
                    f.asc = asc;
                    auto jobs = list(*store, f);
                    CPPUNIT_ASSERT_EQUAL(size_t(4), jobs.size());
                    auto key = [&](const Job& j) -> std::string {
                        char buf[64];
                        long long v = 0;
                        if (column == "client") return j.client;
                        if (column == "workflow") return j.workflow;
                        if (column == "id") v = j.id;
                        if (column == "priority") v = j.priority;
                        if (column == "created_at") v = j.createdAt;
                        if (column == "updated_at") v = j.updatedAt;
                        if (column == "run_at") v = j.runAt;
                        if (column == "queue_state") v = static_cast<int>(j.state);
                        if (column == "failed") v = j.failed;
                        std::snprintf(buf, sizeof buf, "%020lld", v);
                        return buf;
                    };
                    for (size_t i = 1; i < jobs.size(); ++i) {
                        const std::string prev = key(jobs[i - 1]), cur = key(jobs[i]);
                        CPPUNIT_ASSERT_MESSAGE(column + (asc ? " asc" : " desc"),
                                               asc ? prev <= cur : prev >= cur);
                        if (prev == cur) {  // ties broken by id in the same direction
                            CPPUNIT_ASSERT(asc ? jobs[i - 1].id < jobs[i].id
                                               : jobs[i - 1].id > jobs[i].id);
                        }
                    }
                }
            }
            for (const std::string bad : {"nope", "id; DROP TABLE jobs", "content_id", ""}) {
                JobFilter f;
                f.orderBy = bad;
                CPPUNIT_ASSERT_THROW(list(*store, f), ValidationError);
            }
            CPPUNIT_ASSERT_EQUAL(size_t(4), list(*store, JobFilter{}).size());
        });
    }

    void testAdmissionOrderAndCounts() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            // Admission: priority, then runAt, then id.
            Job p5late = makeJob("c", 5);
            p5late.runAt = 300;
            Job p5early = makeJob("c", 5);
            p5early.runAt = 100;
            Job p2 = makeJob("c", 2);
            p2.runAt = 900;
            Job p5earlyToo = makeJob("c", 5);
            p5earlyToo.runAt = 100;
            Job started = makeJob("c", 1);
            started.state = JobState::Started;
            Job started7 = makeJob("c", 7);
            started7.state = JobState::Started;
            Job scheduled = makeJob("c");
            scheduled.state = JobState::Scheduled;
            scheduled.runAt = 50;
            Job scheduledLater = makeJob("c");
            scheduledLater.state = JobState::Scheduled;
            scheduledLater.runAt = 5000;
            Job failed = makeJob("c");
            failed.state = JobState::Completed;
            failed.failed = true;
            for (Job* j : {&p5late, &p5early, &p2, &p5earlyToo, &started, &started7, &scheduled,
                           &scheduledLater, &failed}) {
                addJob(*store, *j);
            }
            store->transact([&](Tx& tx) {
                CPPUNIT_ASSERT(Ids({p2.id, p5early.id, p5earlyToo.id, p5late.id}) ==
                               idsOf(tx.queuedJobs(10)));
                CPPUNIT_ASSERT(Ids({p2.id, p5early.id}) == idsOf(tx.queuedJobs(2)));
                CPPUNIT_ASSERT_EQUAL(std::int64_t(1), tx.queuePosition(p2));
                CPPUNIT_ASSERT_EQUAL(std::int64_t(2), tx.queuePosition(p5early));
                CPPUNIT_ASSERT_EQUAL(std::int64_t(3), tx.queuePosition(p5earlyToo));
                CPPUNIT_ASSERT_EQUAL(std::int64_t(4), tx.queuePosition(p5late));
                CPPUNIT_ASSERT_EQUAL(std::int64_t(0), tx.queuePosition(started));

                CPPUNIT_ASSERT(Ids({scheduled.id}) ==
                               idsOf(tx.jobsDue(JobState::Scheduled, 1000, 10)));
                CPPUNIT_ASSERT(Ids({scheduled.id, scheduledLater.id}) ==
                               idsOf(tx.jobsDue(JobState::Scheduled, 5000, 10)));
                CPPUNIT_ASSERT(Ids({scheduled.id}) ==
                               idsOf(tx.jobsDue(JobState::Scheduled, 5000, 1)));

                auto counts = tx.countJobsByState();
                CPPUNIT_ASSERT_EQUAL(std::int64_t(4), counts[JobState::Queued]);
                CPPUNIT_ASSERT_EQUAL(std::int64_t(2), counts[JobState::Started]);
                CPPUNIT_ASSERT_EQUAL(std::int64_t(2), counts[JobState::Scheduled]);
                CPPUNIT_ASSERT_EQUAL(std::int64_t(1), counts[JobState::Completed]);
                CPPUNIT_ASSERT_EQUAL(std::int64_t(0), counts.at(JobState::Paused));
                CPPUNIT_ASSERT_EQUAL(std::int64_t(1), tx.countFailedJobs());
                CPPUNIT_ASSERT_EQUAL(std::int64_t(1), tx.countStartedBelowPriority(5));
                CPPUNIT_ASSERT_EQUAL(std::int64_t(2), tx.countStartedBelowPriority(8));
                CPPUNIT_ASSERT_EQUAL(std::int64_t(0), tx.countStartedBelowPriority(1));
                CPPUNIT_ASSERT_EQUAL(std::int64_t(2), tx.countJobsInState(JobState::Started));
                CPPUNIT_ASSERT_EQUAL(std::int64_t(4), tx.countJobsInState(JobState::Queued));
                CPPUNIT_ASSERT_EQUAL(std::int64_t(0), tx.countJobsInState(JobState::Paused));
            });
        });
    }

    // The count of started jobs that admission asks for is kept between transactions on
    // SQLite; it must agree with the rows after inserts and updates, a rolled-back
    // transaction, and a write to a row the transaction had not read.
    void testStartedCountFollowsEveryCommit() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            auto check = [&](std::int64_t expected) {
                store->transact([&](Tx& tx) {
                    CPPUNIT_ASSERT_EQUAL(expected, tx.countJobsInState(JobState::Started));
                    CPPUNIT_ASSERT_EQUAL(expected, tx.countJobsByState()[JobState::Started]);
                });
            };
            Job started = makeJob("c");
            started.state = JobState::Started;
            addJob(*store, started);
            check(1);
            std::int64_t queuedId = 0;
            store->transact([&](Tx& tx) {
                Job job = makeJob("c");
                queuedId = tx.insertJob(job);
                auto seen = tx.findJob(queuedId);
                seen->state = JobState::Started;
                tx.updateJob(*seen);
                CPPUNIT_ASSERT_EQUAL(std::int64_t(2), tx.countJobsInState(JobState::Started));
            });
            check(2);
            try {
                store->transact([&](Tx& tx) {
                    auto job = tx.findJob(queuedId);
                    job->state = JobState::Completed;
                    tx.updateJob(*job);
                    CPPUNIT_ASSERT_EQUAL(std::int64_t(1), tx.countJobsInState(JobState::Started));
                    throw std::runtime_error("rolled back");
                });
            } catch (const std::runtime_error&) {
            }
            check(2);
            // A row this transaction never read: its old state is unknown, so it counts again.
            Job unseen = started;
            unseen.state = JobState::Completed;
            store->transact([&](Tx& tx) { tx.updateJob(unseen); });
            check(1);
            store->transact([&](Tx& tx) {
                auto job = tx.findJob(queuedId);
                job->state = JobState::Completed;
                tx.updateJob(*job);
            });
            check(0);
        });
    }

    // On PostgreSQL several writer connections commit at once: a count one of them read may
    // miss, or already hold, another's change. Four threads start and complete jobs, each
    // transaction asking for the count first (as admission does); the kept count must end as
    // the rows say.
    void testStartedCountHoldsWithWritersSideBySide() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            constexpr int kThreads = 4, kRounds = 40;
            std::vector<std::future<void>> writers;
            for (int w = 0; w < kThreads; ++w) {
                writers.push_back(std::async(std::launch::async, [&, w] {
                    std::vector<std::int64_t> mine;
                    for (int round = 0; round < kRounds; ++round) {
                        store->transact([&](Tx& tx) {
                            tx.countJobsInState(JobState::Started);
                            // Others commit meanwhile: what this one read is then out of date.
                            std::this_thread::sleep_for(std::chrono::milliseconds(1));
                            if (round % 3 == 2) {
                                auto job = tx.findJob(mine.back());
                                job->state = JobState::Completed;
                                tx.updateJob(*job);
                            } else {
                                Job job = makeJob("c" + std::to_string(w));
                                job.state = JobState::Started;
                                tx.insertJob(job);
                                mine.push_back(job.id);
                            }
                        });
                        // A change the store cannot know (a row it did not read): counted
                        // again by the next ones, and those counts race. None later, so a
                        // count kept wrongly then would stay wrong to the end.
                        if (round == 10 || round == 30) {
                            Job unseen = *[&] {
                                std::optional<Job> job;
                                store->read([&](Tx& tx) { job = tx.findJob(mine.front()); });
                                return job;
                            }();
                            store->transact([&](Tx& tx) { tx.updateJob(unseen); });
                        }
                    }
                }));
            }
            for (auto& writer : writers) writer.get();
            store->transact([&](Tx& tx) {
                const std::int64_t rows = tx.countJobsByState()[JobState::Started];
                std::int64_t expected = 0;  // each thread: +1 per insert, -1 per completion
                for (int round = 0; round < kRounds; ++round) expected += round % 3 == 2 ? -1 : 1;
                CPPUNIT_ASSERT_EQUAL(kThreads * expected, rows);
                CPPUNIT_ASSERT_EQUAL(rows, tx.countJobsInState(JobState::Started));
            });
        });
    }

    // Admission reads the queue in every batch; once the store knows that the last commit
    // left no job queued, it answers without a read. A job queued by any commit must be in
    // the next answer: an insert, an update, a row the transaction had not read. A rolled
    // back transaction queues nothing.
    void testQueueFollowsEveryCommit() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            auto queue = [&] {
                std::vector<std::int64_t> ids;
                store->transact([&](Tx& tx) { ids = idsOf(tx.queuedJobs(100)); });
                return ids;
            };
            auto setState = [&](std::int64_t id, JobState state) {
                store->transact([&](Tx& tx) {
                    Job job = *tx.findJob(id);
                    job.state = state;
                    tx.updateJob(job);
                });
            };
            CPPUNIT_ASSERT(queue().empty());  // read: the count is known from here on
            CPPUNIT_ASSERT(queue().empty());
            Job a = makeJob("c");
            addJob(*store, a);
            CPPUNIT_ASSERT(Ids{a.id} == queue());
            setState(a.id, JobState::Started);
            CPPUNIT_ASSERT(queue().empty());
            setState(a.id, JobState::Queued);  // back on the queue
            CPPUNIT_ASSERT(Ids{a.id} == queue());
            setState(a.id, JobState::Started);
            CPPUNIT_ASSERT(queue().empty());
            CPPUNIT_ASSERT_THROW(store->transact([&](Tx& tx) {
                Job job = makeJob("c");
                tx.insertJob(job);
                throw std::runtime_error("rolled back");
            }),
                                 std::runtime_error);
            CPPUNIT_ASSERT(queue().empty());
            // A row this transaction never read: what it did to the queue is unknown.
            Job unseen = a;
            unseen.state = JobState::Queued;
            store->transact([&](Tx& tx) { tx.updateJob(unseen); });
            CPPUNIT_ASSERT(Ids{a.id} == queue());
            setState(a.id, JobState::Started);
            CPPUNIT_ASSERT(queue().empty());
            // Written before the queue is read in the same transaction.
            Job b = makeJob("c");
            store->transact([&](Tx& tx) {
                tx.insertJob(b);
                tx.listJobs(JobFilter{});  // writes what waits
                CPPUNIT_ASSERT(Ids{b.id} == idsOf(tx.queuedJobs(100)));
            });
            CPPUNIT_ASSERT(Ids{b.id} == queue());
        });
    }

    // Several writer connections on PostgreSQL: one's read of the queue may miss, or
    // already hold, another's commit. Four threads queue jobs and start their own, reading
    // the queue first in every transaction (as admission does); each must always find its
    // own queued jobs there.
    void testQueueHoldsWithWritersSideBySide() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            constexpr int kThreads = 4, kRounds = 40;
            std::vector<std::future<size_t>> writers;
            for (int w = 0; w < kThreads; ++w) {
                writers.push_back(std::async(std::launch::async, [&, w] {
                    std::set<std::int64_t> mine;  // this thread's committed queued jobs
                    for (int round = 0; round < kRounds; ++round) {
                        std::optional<std::int64_t> added, taken;
                        store->transact([&](Tx& tx) {
                            added.reset();
                            taken.reset();
                            std::set<std::int64_t> seen;
                            for (const Job& job : tx.queuedJobs(1000)) seen.insert(job.id);
                            for (std::int64_t id : mine) {
                                CPPUNIT_ASSERT_MESSAGE(
                                    "queued job " + std::to_string(id) + " missing from the queue",
                                    seen.count(id));
                            }
                            // Others commit meanwhile: what this one read is then out of date.
                            std::this_thread::sleep_for(std::chrono::milliseconds(1));
                            // First the queue empties again and again, then it grows.
                            const bool take = round < kRounds / 2 ? round % 2 == 1 : round % 3 == 2;
                            if (take && !mine.empty()) {
                                Job job = *tx.findJob(*mine.begin());
                                job.state = JobState::Started;
                                tx.updateJob(job);
                                taken = job.id;
                            } else {
                                Job job = makeJob("c" + std::to_string(w));
                                tx.insertJob(job);
                                added = job.id;
                            }
                        });
                        if (added) mine.insert(*added);
                        if (taken) mine.erase(*taken);
                        // A change the store cannot know, and a moment when nothing is queued
                        // at all: a count of 0 kept wrongly then hides later jobs.
                        if (round == 10 || round == 30) {
                            std::optional<Job> job;
                            store->read([&](Tx& tx) { job = tx.findJob(*mine.begin()); });
                            store->transact([&](Tx& tx) { tx.updateJob(*job); });
                        }
                    }
                    return mine.size();
                }));
            }
            std::int64_t queued = 0;
            for (auto& writer : writers) queued += static_cast<std::int64_t>(writer.get());
            store->transact([&](Tx& tx) {
                const std::int64_t rows = tx.countJobsByState()[JobState::Queued];
                CPPUNIT_ASSERT(queued > 0);
                CPPUNIT_ASSERT_EQUAL(queued, rows);
                CPPUNIT_ASSERT_EQUAL(static_cast<size_t>(rows), tx.queuedJobs(1000).size());
            });
        });
    }

    // Admission reads the queue after a submission's inserts, before any of them is written:
    // the queue must hold the transaction's new and changed jobs in admission order, and
    // leave out what it took off the queue, with `limit` rows still.
    void testQueuedJobsSeeTheTransactionsOwnChanges() {
        forEachBackend([](const std::string& url) {
            auto store = Store::open(url);
            auto job = [](int priority, TimeMs runAt, JobState state) {
                Job j = makeJob("c", priority);
                j.runAt = runAt;
                j.state = state;
                return j;
            };
            Job a = job(5, 1000, JobState::Queued), b = job(3, 1000, JobState::Queued);
            Job e = job(4, 1000, JobState::Started);
            for (Job* j : {&a, &b, &e}) addJob(*store, *j);
            Ids inside, first;
            store->transact([&](Tx& tx) {
                Job mine = *tx.findJob(b.id);
                mine.state = JobState::Started;  // admitted here
                tx.updateJob(mine);
                first = idsOf(tx.queuedJobs(1));
                Job back = *tx.findJob(e.id);
                back.state = JobState::Queued;  // back on the queue
                tx.updateJob(back);
                Job c = job(1, 3000, JobState::Queued), d = job(5, 2000, JobState::Queued);
                tx.insertJob(c);
                tx.insertJob(d);
                inside = idsOf(tx.queuedJobs(10));
                CPPUNIT_ASSERT(Ids({c.id, e.id, a.id, d.id}) == inside);
                CPPUNIT_ASSERT(Ids({c.id, e.id}) == idsOf(tx.queuedJobs(2)));
            });
            CPPUNIT_ASSERT(Ids({a.id}) == first);
            store->transact([&](Tx& tx) { CPPUNIT_ASSERT(inside == idsOf(tx.queuedJobs(10))); });
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StoreJobsTest);

}  // namespace te::test
