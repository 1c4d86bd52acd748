#include "worker/ExecutorPool.h"

#include <Poco/Logger.h>

#include <array>
#include <zmq_addon.hpp>

#include "shared/protocol/Protocol.h"
#include "worker/Messages.h"
#include "worker/TaskReporter.h"

namespace te {
namespace {

void sendReport(zmq::socket_t& push, long long taskId, const char* type, const std::string& body) {
    // Named, not a temporary in the initializer: a buffer only points at its bytes, and a
    // temporary string would be gone before send_multipart reads them.
    const std::string id = std::to_string(taskId);
    std::array<zmq::const_buffer, 3> frames = {zmq::buffer(id), zmq::buffer(std::string_view(type)),
                                               zmq::buffer(body)};
    zmq::send_multipart(push, frames);
}

// LOG lines of one task, over its executor thread's PUSH socket.
class SocketReporter : public TaskReporter {
public:
    SocketReporter(zmq::socket_t& push, long long taskId) : _push(push), _taskId(taskId) {}
    void log(int severity, const std::string& message) override {
        sendReport(_push, _taskId, protocol::kLog, messages::log(_taskId, severity, message));
    }

private:
    zmq::socket_t& _push;
    long long _taskId;
};

}  // namespace

ExecutorPool::ExecutorPool(zmq::context_t& context, std::string endpoint,
                           const WorkerConfig& config)
    : _context(context), _endpoint(std::move(endpoint)), _runner(config) {}

ExecutorPool::~ExecutorPool() { stop(); }

void ExecutorPool::start(int threads) {
    for (int i = 0; i < threads; ++i) _threads.emplace_back([this] { threadMain(); });
}

void ExecutorPool::submit(const Assignment& assignment, std::shared_ptr<TaskControl> control) {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _queue.push_back(Job{assignment, std::move(control)});
    }
    _cond.notify_one();
}

bool ExecutorPool::removeQueued(long long taskId) {
    std::lock_guard<std::mutex> lock(_mutex);
    for (auto it = _queue.begin(); it != _queue.end(); ++it) {
        if (it->assignment.taskId == taskId) {
            _queue.erase(it);
            return true;
        }
    }
    return false;
}

std::vector<Assignment> ExecutorPool::takeQueued() {
    std::lock_guard<std::mutex> lock(_mutex);
    std::vector<Assignment> taken;
    for (auto& job : _queue) taken.push_back(job.assignment);
    _queue.clear();
    return taken;
}

void ExecutorPool::stop() {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _stopping = true;
    }
    _cond.notify_all();
    for (auto& t : _threads) {
        if (t.joinable()) t.join();
    }
    _threads.clear();
}

void ExecutorPool::threadMain() {
    zmq::socket_t push(_context, zmq::socket_type::push);
    // Never block a task on a slow socket thread, and never lose a report at close.
    push.set(zmq::sockopt::sndhwm, 0);
    push.set(zmq::sockopt::linger, -1);
    push.connect(_endpoint);
    for (;;) {
        Job job;
        {
            std::unique_lock<std::mutex> lock(_mutex);
            _cond.wait(lock, [this] { return _stopping || !_queue.empty(); });
            if (_stopping) return;
            job = std::move(_queue.front());
            _queue.pop_front();
        }
        const long long id = job.assignment.taskId;
        try {
            sendReport(push, id, protocol::kStarted, messages::started(id));
            SocketReporter reporter(push, id);
            TaskOutcome outcome = _runner.run(job.assignment, *job.control, reporter);
            sendReport(push, id, messages::resultType(outcome), messages::result(id, outcome));
        } catch (const std::exception& e) {
            // Only the socket itself can throw here (the runner does not); the socket thread
            // is going away, and the server's lease hands the task to another worker.
            Poco::Logger::get("worker").error("task " + std::to_string(id) +
                                              ": cannot report: " + e.what());
        }
    }
}

}  // namespace te
