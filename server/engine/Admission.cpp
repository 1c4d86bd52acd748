// Admission and the engine's periodic work (run by the scheduler's schedules).
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/URI.h>

#include <memory>

#include "server/engine/EngineEffects.h"
#include "server/engine/EngineImpl.h"

namespace te {
namespace {

// GET url; the HTTP status, or 0 with `error` set when there was no answer.
int probe(const std::string& url, std::string& error) {
    try {
        Poco::URI uri(url);
        std::unique_ptr<Poco::Net::HTTPClientSession> session;
        if (uri.getScheme() == "https") {
            Poco::Net::Context::Ptr ctx = new Poco::Net::Context(
                Poco::Net::Context::TLS_CLIENT_USE, "", Poco::Net::Context::VERIFY_RELAXED);
            session =
                std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), ctx);
        } else if (uri.getScheme() == "http") {
            session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
        } else {
            error = "unsupported scheme '" + uri.getScheme() + "'";
            return 0;
        }
        session->setTimeout(Poco::Timespan(5, 0));
        Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, uri.getPathAndQuery(),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
        session->sendRequest(req);
        Poco::Net::HTTPResponse res;
        session->receiveResponse(res);
        return static_cast<int>(res.getStatus());
    } catch (const Poco::Exception& e) {
        error = e.displayText();
    } catch (const std::exception& e) {
        error = e.what();
    }
    return 0;
}

}  // namespace

void EngineImpl::admit() {
    Effects fx;
    {
        std::lock_guard<std::recursive_mutex> lock(_mutex);
        admitLocked(fx);
    }
    announce(fx);
}

void EngineImpl::admitLocked(Effects& fx) {
    // Of max_jobs slots, priority_slots are kept for priority jobs (priority below the
    // threshold; lower is more urgent). Queued jobs come in admission order: priority, then
    // run_at, then id — so once a normal job cannot start, no later one can either.
    Effects local;
    _store.transact([&](Tx& tx) {
        local = Effects{};  // a retried transaction decides afresh
        admitTx(tx, local);
    });
    fx.merge(local);
}

void EngineImpl::admitTx(Tx& tx, Effects& fx) {
    const Settings s = _settings;
    // A job that ends while being started (a workflow whose stages have no task) frees its
    // slot again at once: a few rounds take those in the same transaction.
    for (int round = 0; round < 8; ++round) {
        fx.slotFreed = false;
        // Runs on every submission batch and every batch of worker results. Most of the
        // latter find nothing queued: one index probe says so, where the counts below walk
        // every started job. The probe's rows serve when they are all there are.
        constexpr int kPeek = 16;  // a submission batch of 16 connections fits
        std::vector<Job> queued = tx.queuedJobs(kPeek);
        if (queued.empty()) return;
        // Count only started jobs (an index range), never every job by state, which grows
        // with the table's history.
        std::int64_t started = tx.countJobsInState(JobState::Started);
        if (started >= s.maxJobs) return;
        // Without reserved slots the normal cap is max_jobs itself, which `started` already
        // bounds: the second walk over the started jobs would decide nothing.
        std::int64_t priorityStarted =
            s.prioritySlots > 0 ? tx.countStartedBelowPriority(s.priorityThreshold) : 0;
        std::int64_t normalStarted = started - priorityStarted;
        std::int64_t normalCap = std::max(0, s.maxJobs - s.prioritySlots);
        if (queued.size() == kPeek && s.maxJobs - started > kPeek) {
            queued = tx.queuedJobs(static_cast<int>(s.maxJobs - started));
        }
        for (Job& job : queued) {
            if (started >= s.maxJobs) break;
            bool priority = job.priority < s.priorityThreshold;
            if (!priority && normalStarted >= normalCap) break;
            startJob(tx, fx, job);
            ++started;
            if (!priority) ++normalStarted;
        }
        if (!fx.slotFreed) break;
    }
    fx.slotFreed = false;
}

int EngineImpl::queueScheduledJobs() {
    int moved = 0;
    Effects fx;
    {
        std::lock_guard<std::recursive_mutex> lock(_mutex);
        _store.transact([&](Tx& tx) {
            moved = 0;
            for (Job& job : tx.jobsDue(JobState::Scheduled, nowMs(), 1000)) {
                job.state = job.semaphoreUrl.empty() ? JobState::Queued : JobState::Pending;
                tx.updateJob(job);
                log(tx, job, 0, Severity::Info, "scheduler",
                    std::string("run_at reached; job ") + toString(job.state));
                ++moved;
            }
        });
        if (moved) admitLocked(fx);
    }
    announce(fx);
    return moved;
}

int EngineImpl::checkSemaphores() {
    std::vector<Job> pending;
    _store.transact([&](Tx& tx) { pending = tx.jobsDue(JobState::Pending, nowMs(), 100); });
    int released = 0;
    for (const Job& candidate : pending) {
        // The GET happens outside the engine lock: a slow semaphore must not stall the engine.
        std::string error;
        int status = probe(candidate.semaphoreUrl, error);
        Effects fx;
        {
            std::lock_guard<std::recursive_mutex> lock(_mutex);
            _store.transact([&](Tx& tx) {
                fx = Effects{};
                auto job = tx.findJob(candidate.id);
                if (!job || job->state != JobState::Pending) return;
                if (status >= 200 && status < 300) {
                    job->state = JobState::Queued;
                    tx.updateJob(*job);
                    log(tx, *job, 0, Severity::Info, "scheduler",
                        "semaphore answered " + std::to_string(status) + "; job queued");
                    ++released;
                } else {
                    log(tx, *job, 0, Severity::Info, "scheduler",
                        "waiting for semaphore " + job->semaphoreUrl + ": " +
                            (status ? "HTTP " + std::to_string(status) : error));
                }
            });
            if (released) admitLocked(fx);
        }
        announce(fx);
    }
    return released;
}

int EngineImpl::expireLeases() {
    int n = 0;
    Effects fx;
    {
        std::lock_guard<std::recursive_mutex> lock(_mutex);
        _store.transact([&](Tx& tx) {
            n = 0;
            fx = Effects{};
            for (Task& t : tx.expiredLeases(nowMs(), 1000)) {
                std::string old = t.worker;
                auto job = tx.findJob(t.jobId);
                const bool paused = requeue(tx, fx, job ? &*job : nullptr, t);
                if (job) {
                    log(tx, *job, t.id, Severity::Warn, "controller",
                        "worker " + old + " stopped responding; '" + t.name + "' is " +
                            (paused ? "queued again when the job resumes"
                                    : "handed to another worker"));
                }
                ++n;
            }
        });
    }
    announce(fx);
    return n;
}

int EngineImpl::expireEndpointWaits() {
    int n = 0;
    Effects fx;
    {
        std::lock_guard<std::recursive_mutex> lock(_mutex);
        const int wait = _config.dispatch.waitForEndpointsTimeoutSec;
        _store.transact([&](Tx& tx) {
            n = 0;
            fx = Effects{};
            for (Task& t :
                 tx.undeliveredTargeted(nowMs() - static_cast<TimeMs>(wait) * 1000, 1000)) {
                t.state = TaskState::Incomplete;
                t.message = "worker '" + t.targetWorker + "' did not receive the task within " +
                            std::to_string(wait) + " s";
                t.finishedAt = nowMs();
                tx.updateTask(t);
                // Its worker may have claimed it since it was read, as it came back at the
                // last moment (see stopTasks): stopped there, not run for nothing.
                fx.cancel.push_back(t.id);
                auto job = tx.findJob(t.jobId);
                if (!job) continue;
                log(tx, *job, t.id, Severity::Error, "controller",
                    "'" + t.name + "' incomplete: " + t.message);
                callback(tx, fx, *job, &t, "fail", t.message);
                advance(tx, fx, *job);
                ++n;
            }
        });
    }
    announce(fx);
    return n;
}

}  // namespace te
