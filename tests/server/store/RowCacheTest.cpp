// RowCache's rules on its own: which commits put rows, and what keeps a row out.
#include <cppunit/extensions/HelperMacros.h>

#include "server/store/RowCache.h"

namespace te::test {

using store::RowCache;

namespace {

Job jobRow(std::int64_t id, JobState state = JobState::Started) {
    Job job;
    job.id = id;
    job.client = "c";
    job.state = state;
    return job;
}

Task taskRow(std::int64_t id, std::int64_t jobId, TaskState state = TaskState::Assigned,
             const std::string& name = "t") {
    Task task;
    task.id = id;
    task.jobId = jobId;
    task.state = state;
    task.name = name;
    return task;
}

// Rows by id, as a transaction holds them.
template <class Row>
std::unordered_map<std::int64_t, Row> byId(const std::vector<Row>& rows) {
    std::unordered_map<std::int64_t, Row> out;
    for (const Row& row : rows) out.emplace(row.id, row);
    return out;
}

// One transaction that writes `task` (marks it, then commits it).
void writeTask(RowCache& cache, const Task& task) {
    RowCache::Marks marks;
    cache.markTask(marks, task.id);
    cache.committed(marks, {}, byId<Task>({task}), {});
}

void insertJob(RowCache& cache, const Job& job) {
    RowCache::Marks marks;
    cache.markJob(marks, job.id, true);
    cache.committed(marks, byId<Job>({job}), {}, {});
}

// One transaction that updates `job`, having read the version `read` from the cache.
void updateJob(RowCache& cache, const Job& job, std::uint64_t read) {
    RowCache::Marks marks;
    cache.markJob(marks, job.id, false, read);
    cache.committed(marks, byId<Job>({job}), {}, {});
}

}  // namespace

class RowCacheTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RowCacheTest);
    CPPUNIT_TEST(testCommitPutsWhatItWrote);
    CPPUNIT_TEST(testTwoWritersOfOneRowPutNothing);
    CPPUNIT_TEST(testRollbackLeavesTheRowOut);
    CPPUNIT_TEST(testClaimYieldsToLaterWrites);
    CPPUNIT_TEST(testJobUpdatedOverTheKeptVersionIsPut);
    CPPUNIT_TEST(testEndedJobLeavesWithItsTasks);
    CPPUNIT_TEST(testBigJobIsNotListed);
    CPPUNIT_TEST(testTooManyRowsEmptyTheCache);
    CPPUNIT_TEST(testKeptOpenTaskAnswersForItsStage);
    CPPUNIT_TEST(testAbsenceLastsUntilATaskEntersTheStates);
    CPPUNIT_TEST(testAbsenceNeedsNoOtherWriterAround);
    CPPUNIT_TEST(testAbsenceTheTransactionContradictsIsNotPut);
    CPPUNIT_TEST_SUITE_END();

public:
    void testCommitPutsWhatItWrote() {
        RowCache cache;
        RowCache::Marks marks;
        cache.markJob(marks, 1, true);
        cache.markJob(marks, 2, false);  // updated, not read from the cache
        for (std::int64_t id : {10, 11}) {
            cache.markTask(marks, id);
            cache.markList(marks, 1);
        }
        cache.committed(marks, byId<Job>({jobRow(1), jobRow(2)}),
                        byId<Task>({taskRow(10, 1), taskRow(11, 1, TaskState::Queued)}),
                        {{1, {10, 11}}});
        CPPUNIT_ASSERT(cache.job(1).has_value());
        CPPUNIT_ASSERT_MESSAGE("an UPDATE may have merged with another's", !cache.job(2));
        CPPUNIT_ASSERT(cache.task(10).has_value());
        CPPUNIT_ASSERT_MESSAGE("a claim may take a queued task unseen", !cache.task(11));
        CPPUNIT_ASSERT_MESSAGE("one of its rows is not kept", !cache.wholeJob(1));
        writeTask(cache, taskRow(11, 1, TaskState::Running));
        auto whole = cache.wholeJob(1);
        CPPUNIT_ASSERT(whole.has_value());
        CPPUNIT_ASSERT_EQUAL(size_t(2), whole->size());
        CPPUNIT_ASSERT_EQUAL(std::int64_t(11), (*whole)[1].id);
    }

    void testTwoWritersOfOneRowPutNothing() {
        RowCache cache;
        writeTask(cache, taskRow(5, 1, TaskState::Assigned, "old"));
        RowCache::Marks a, b;
        cache.markTask(a, 5);
        CPPUNIT_ASSERT_MESSAGE("a row being written leaves at once", !cache.task(5));
        cache.markTask(b, 5);
        cache.committed(a, {}, byId<Task>({taskRow(5, 1, TaskState::Running, "a")}), {});
        CPPUNIT_ASSERT(!cache.task(5));
        cache.committed(b, {}, byId<Task>({taskRow(5, 1, TaskState::Running, "b")}), {});
        CPPUNIT_ASSERT_MESSAGE("which commit was last is not known", !cache.task(5));
        // One after the other, the last is kept.
        writeTask(cache, taskRow(5, 1, TaskState::Running, "c"));
        writeTask(cache, taskRow(5, 1, TaskState::Completed, "d"));
        CPPUNIT_ASSERT_EQUAL(std::string("d"), cache.task(5)->name);
    }

    void testRollbackLeavesTheRowOut() {
        RowCache cache;
        writeTask(cache, taskRow(5, 1, TaskState::Assigned, "old"));
        {
            RowCache::Marks marks;
            cache.markTask(marks, 5);
            cache.abandoned(marks);
        }
        CPPUNIT_ASSERT(!cache.task(5));
        // The mark was given back: the next writer alone puts its row.
        writeTask(cache, taskRow(5, 1, TaskState::Running, "new"));
        CPPUNIT_ASSERT_EQUAL(std::string("new"), cache.task(5)->name);
    }

    void testClaimYieldsToLaterWrites() {
        RowCache cache;
        RowCache::Marks claim;
        cache.claimBegins(claim);
        // Another transaction wrote task 5 after the claim began (say, it cancelled it).
        writeTask(cache, taskRow(5, 1, TaskState::Cancelled, "theirs"));
        claim.claimed = {5, 6};
        cache.committed(claim, {}, byId<Task>({taskRow(5, 1), taskRow(6, 1)}), {});
        CPPUNIT_ASSERT_EQUAL(std::string("theirs"), cache.task(5)->name);
        CPPUNIT_ASSERT_MESSAGE("an untouched claimed row is put", cache.task(6).has_value());
        // A write still out when the claim commits keeps its row out too.
        RowCache::Marks writer, claim2;
        cache.markTask(writer, 7);
        cache.claimBegins(claim2);
        claim2.claimed = {7};
        cache.committed(claim2, {}, byId<Task>({taskRow(7, 1)}), {});
        CPPUNIT_ASSERT(!cache.task(7));
        cache.abandoned(writer);
    }

    // A job's UPDATE writes only what changed: the row after it is known only if the row it
    // changed was the one the transaction read.
    void testJobUpdatedOverTheKeptVersionIsPut() {
        RowCache cache;
        insertJob(cache, jobRow(1));
        std::uint64_t version = 0;
        Job row = *cache.job(1, &version);
        row.message = "mine";
        updateJob(cache, row, version);
        CPPUNIT_ASSERT_EQUAL(std::string("mine"), cache.job(1, &version)->message);
        // Read, then someone else writes it, then this one writes over what it read.
        Job stale = *cache.job(1, &version);
        Job theirs = stale;
        theirs.priority = 1;
        std::uint64_t theirVersion = version;
        updateJob(cache, theirs, theirVersion);
        stale.message = "stale";
        updateJob(cache, stale, version);
        CPPUNIT_ASSERT_MESSAGE("the database holds both changes; the cache knows neither",
                               !cache.job(1));
    }

    void testEndedJobLeavesWithItsTasks() {
        RowCache cache;
        RowCache::Marks submit;
        cache.markJob(submit, 1, true);
        cache.markList(submit, 1);
        cache.committed(submit, byId<Job>({jobRow(1)}), {}, {{1, {10}}});
        writeTask(cache, taskRow(10, 1));
        CPPUNIT_ASSERT(cache.wholeJob(1).has_value());
        std::uint64_t version = 0;
        cache.job(1, &version);
        updateJob(cache, jobRow(1, JobState::Completed), version);
        CPPUNIT_ASSERT_MESSAGE("kept for the client's next GET", cache.job(1).has_value());
        CPPUNIT_ASSERT(!cache.task(10));
        CPPUNIT_ASSERT(!cache.wholeJob(1));
        CPPUNIT_ASSERT_EQUAL(size_t(1), cache.size());
        // Until kMaxEnded later jobs have ended.
        for (std::int64_t id = 2; id <= static_cast<std::int64_t>(RowCache::kMaxEnded) + 1; ++id) {
            insertJob(cache, jobRow(id, JobState::Completed));
        }
        CPPUNIT_ASSERT(!cache.job(1));
        CPPUNIT_ASSERT(cache.job(2).has_value());
        CPPUNIT_ASSERT_EQUAL(RowCache::kMaxEnded, cache.size());
    }

    // A fan-out's list is not kept, only that the job is big, until the job ends.
    void testBigJobIsNotListed() {
        RowCache cache;
        RowCache::Marks fanOut;
        cache.markJob(fanOut, 1, true);
        cache.markList(fanOut, 1);
        std::vector<std::int64_t> ids;
        for (std::int64_t id = 10; id < 10 + static_cast<std::int64_t>(RowCache::kMaxListed) + 1;
             ++id) {
            ids.push_back(id);
        }
        cache.committed(fanOut, byId<Job>({jobRow(1)}), {}, {{1, ids}});
        CPPUNIT_ASSERT(cache.bigJob(1));
        CPPUNIT_ASSERT(!cache.wholeJob(1));
        CPPUNIT_ASSERT(!cache.bigJob(2));
        std::uint64_t version = 0;
        cache.job(1, &version);
        updateJob(cache, jobRow(1, JobState::Completed), version);
        CPPUNIT_ASSERT(!cache.bigJob(1));
    }

    void testTooManyRowsEmptyTheCache() {
        RowCache cache;
        RowCache::Marks marks;
        std::vector<Task> rows;
        for (std::int64_t id = 1; id <= static_cast<std::int64_t>(RowCache::kMaxRows); ++id) {
            cache.markTask(marks, id);
            rows.push_back(taskRow(id, 1));
        }
        cache.committed(marks, {}, byId(rows), {});
        CPPUNIT_ASSERT_EQUAL(RowCache::kMaxRows, cache.size());
        writeTask(cache, taskRow(RowCache::kMaxRows + 1, 2));
        CPPUNIT_ASSERT_EQUAL(size_t(0), cache.size());
    }

    void testKeptOpenTaskAnswersForItsStage() {
        RowCache cache;
        const std::uint32_t open = bits({TaskState::Queued, TaskState::Running});
        auto none = [](std::int64_t) { return std::optional<TaskState>(); };
        writeTask(cache, taskRow(5, 1, TaskState::Completed));
        CPPUNIT_ASSERT(!cache.keptStageTask(1, 0, open, none));
        writeTask(cache, taskRow(6, 1, TaskState::Running));
        CPPUNIT_ASSERT_EQUAL(std::int64_t(6), cache.keptStageTask(1, 0, open, none).value_or(0));
        CPPUNIT_ASSERT_MESSAGE("another stage", !cache.keptStageTask(1, 1, open, none));
        CPPUNIT_ASSERT_MESSAGE("another job", !cache.keptStageTask(2, 0, open, none));
        auto ownDone = [](std::int64_t id) {
            return id == 6 ? std::optional<TaskState>(TaskState::Completed) : std::nullopt;
        };
        CPPUNIT_ASSERT_MESSAGE("the transaction's own row wins",
                               !cache.keptStageTask(1, 0, open, ownDone));
        writeTask(cache, taskRow(6, 1, TaskState::Completed));
        CPPUNIT_ASSERT_MESSAGE("no longer open", !cache.keptStageTask(1, 0, open, none));
    }

    void testAbsenceLastsUntilATaskEntersTheStates() {
        RowCache cache;
        const std::uint32_t failed = bits({TaskState::Failed});
        probeAbsent(cache, 1, 0, failed);
        CPPUNIT_ASSERT(cache.stageAbsent(1, 0, failed));
        CPPUNIT_ASSERT(!cache.stageAbsent(1, 1, failed));
        writeTask(cache, taskRow(5, 1, TaskState::Completed));
        CPPUNIT_ASSERT_MESSAGE("completed is not failed", cache.stageAbsent(1, 0, failed));
        writeTask(cache, taskRow(6, 1, TaskState::Failed));
        CPPUNIT_ASSERT(!cache.stageAbsent(1, 0, failed));

        probeAbsent(cache, 1, 0, failed);
        RowCache::Marks lost;
        cache.markTask(lost, 7);
        cache.abandoned(lost);
        CPPUNIT_ASSERT_MESSAGE("a write whose outcome is unknown",
                               !cache.stageAbsent(1, 0, failed));

        probeAbsent(cache, 1, 0, failed);
        insertJob(cache, jobRow(1, JobState::Completed));
        CPPUNIT_ASSERT_MESSAGE("the job ended", !cache.stageAbsent(1, 0, failed));

        const std::uint32_t assigned = bits({TaskState::Assigned});
        probeAbsent(cache, 2, 0, assigned);
        CPPUNIT_ASSERT_MESSAGE("a claim enters it unseen", !cache.stageAbsent(2, 0, assigned));
        const std::uint32_t open = bits({TaskState::Queued, TaskState::Assigned});
        probeAbsent(cache, 2, 0, open);
        CPPUNIT_ASSERT(cache.stageAbsent(2, 0, open));
    }

    void testAbsenceNeedsNoOtherWriterAround() {
        RowCache cache;
        const std::uint32_t failed = bits({TaskState::Failed});
        // A write out at the probe may commit a row the probe did not see.
        RowCache::Marks writer, prober;
        cache.markTask(writer, 5);
        cache.probedAbsent(prober, 1, 0, failed);
        cache.committed(writer, {}, byId<Task>({taskRow(5, 2, TaskState::Completed)}), {});
        cache.committed(prober, {}, {}, {});
        CPPUNIT_ASSERT(!cache.stageAbsent(1, 0, failed));
        // So may one that begins after the probe and ends before the COMMIT.
        RowCache::Marks later, prober2;
        cache.probedAbsent(prober2, 1, 0, failed);
        cache.markTask(later, 6);
        cache.committed(later, {}, byId<Task>({taskRow(6, 2, TaskState::Completed)}), {});
        cache.committed(prober2, {}, {}, {});
        CPPUNIT_ASSERT(!cache.stageAbsent(1, 0, failed));
        // The prober's own writes are no other writer's.
        RowCache::Marks own;
        cache.markTask(own, 7);
        cache.probedAbsent(own, 1, 0, failed);
        cache.markTask(own, 8);
        cache.committed(
            own, {},
            byId<Task>({taskRow(7, 1, TaskState::Completed), taskRow(8, 1, TaskState::Running)}),
            {});
        CPPUNIT_ASSERT(cache.stageAbsent(1, 0, failed));
    }

    void testAbsenceTheTransactionContradictsIsNotPut() {
        RowCache cache;
        const std::uint32_t failed = bits({TaskState::Failed});
        // It probed, then failed a task of the stage.
        RowCache::Marks marks;
        cache.probedAbsent(marks, 1, 0, failed);
        cache.markTask(marks, 5);
        cache.committed(marks, {}, byId<Task>({taskRow(5, 1, TaskState::Failed)}), {});
        CPPUNIT_ASSERT(!cache.stageAbsent(1, 0, failed));
        // A failed row it only read counts too.
        RowCache::Marks reader;
        cache.probedAbsent(reader, 1, 0, failed);
        cache.committed(reader, {}, byId<Task>({taskRow(5, 1, TaskState::Failed)}), {});
        CPPUNIT_ASSERT(!cache.stageAbsent(1, 0, failed));
    }

private:
    static std::uint32_t bits(std::initializer_list<TaskState> states) {
        std::uint32_t out = 0;
        for (TaskState s : states) out |= 1u << static_cast<int>(s);
        return out;
    }

    // One transaction whose probe of the stage found nothing, and which commits.
    static void probeAbsent(RowCache& cache, std::int64_t jobId, int stage, std::uint32_t states) {
        RowCache::Marks marks;
        cache.probedAbsent(marks, jobId, stage, states);
        cache.committed(marks, {}, {}, {});
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RowCacheTest);

}  // namespace te::test
