#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "shared/config/WorkerConfig.h"
#include "worker/Assignment.h"
#include "worker/TaskControl.h"
#include "worker/TaskRunner.h"

namespace te {

// The worker's slots: a fixed set of threads, each running one task at a time, so no more than
// `threads` tasks ever run at once; extra submissions wait in a local queue.
// Each thread owns a PUSH socket connected to `endpoint` (the socket thread's inproc PULL) and
// reports through it, as three frames: [task_id][type][json], type being STARTED, LOG, DONE or
// FAILED. submit/removeQueued/takeQueued are thread-safe.
class ExecutorPool {
public:
    ExecutorPool(zmq::context_t& context, std::string endpoint, const WorkerConfig& config);
    ~ExecutorPool();
    ExecutorPool(const ExecutorPool&) = delete;
    ExecutorPool& operator=(const ExecutorPool&) = delete;

    void start(int threads);
    void submit(const Assignment& assignment, std::shared_ptr<TaskControl> control);
    // Takes a task out of the queue if it has not started; false when it has (or is unknown).
    bool removeQueued(long long taskId);
    // Empties the queue, returning what was in it.
    std::vector<Assignment> takeQueued();
    // Lets the threads finish their current task, then joins them. Queued tasks stay queued.
    void stop();

private:
    struct Job {
        Assignment assignment;
        std::shared_ptr<TaskControl> control;
    };
    void threadMain();

    zmq::context_t& _context;
    std::string _endpoint;
    TaskRunner _runner;
    std::mutex _mutex;
    std::condition_variable _cond;
    std::deque<Job> _queue;
    bool _stopping = false;
    std::vector<std::thread> _threads;
};

}  // namespace te
