#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "shared/model/Time.h"

namespace te {

// The job states of the API reference, with their numeric ids (GET /jobs?state=N).
enum class JobState {
    Queued = 0,     // admitted to the queue; the engine's admission moves it to Started
    Started = 1,    // holds one of max_jobs slots; the engine runs its stages
    Completed = 2,  // finished; `failed` says how. Terminal.
    Pending = 3,    // due but waiting for its semaphore_url to answer 2xx (scheduler moves it)
    Broken = 4,     // stopped by a client (PUT queue_state broken, or rerun). Terminal.
    Scheduled = 5,  // run_at in the future; the queue_scheduled_jobs schedule moves it to Queued
    Paused = 6,     // stopped by a client; starts no new task until set back to queued
};

const char* toString(JobState s);
// "queued" or "0" -> Queued. nullopt for anything else.
std::optional<JobState> parseJobState(const std::string& text);
// Completed or Broken: the job runs no more.
bool isTerminal(JobState s);

struct Job {
    std::int64_t id = 0;
    std::string client;
    std::string workflow;
    int priority = 5;        // lower is more urgent
    std::string parameters;  // the submitted parameters object, as JSON text
    std::string headers;     // JSON object of the http-header inputs captured at submission
    std::string context;     // JSON object: parameters + outputs of finished tasks
    std::string contentId;   // parameters.content_id, indexed for ?search=
    JobState state = JobState::Queued;
    bool failed = false;
    bool persist = false;
    std::string semaphoreUrl;
    std::string message;  // why it failed or broke; empty otherwise
    int stage = -1;       // index of the running stage; -1 before the first
    TimeMs createdAt = 0;
    TimeMs updatedAt = 0;
    TimeMs runAt = 0;       // when it may start; createdAt when not given
    TimeMs startedAt = 0;   // 0 until started
    TimeMs finishedAt = 0;  // 0 until completed or broken
};

}  // namespace te
