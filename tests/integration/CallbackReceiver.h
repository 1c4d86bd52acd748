#pragma once

#include <Poco/JSON/Object.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace Poco::Net {
class HTTPServer;
}

namespace te::test {

// A real HTTP receiver on 127.0.0.1 for callback and semaphore tests: records every request
// and answers with a scripted status. Its port is fixed at construction, so stop() and start()
// bring it back on the same URL (a receiver that is down for a while). Thread-safe.
class CallbackReceiver {
public:
    struct Request {
        std::string method;
        std::string path;
        std::map<std::string, std::string> headers;  // names lower-cased
        std::string body;
        int status = 0;  // what we answered
        std::chrono::steady_clock::time_point at;
        Poco::JSON::Object::Ptr json() const;  // throws if the body is not a JSON object
    };

    CallbackReceiver();
    ~CallbackReceiver();

    void start();
    void stop();
    std::string url(const std::string& path = "/events") const;
    int port() const { return _port; }

    // The next `n` requests get `status`; later ones get 200.
    void failNext(int n, int status = 500);
    // Every request is held this long before the answer.
    void setDelay(std::chrono::milliseconds delay);

    std::vector<Request> requests() const;   // every request, in arrival order
    std::vector<Request> delivered() const;  // those answered 2xx
    std::size_t deliveredCount() const;

    // Called by the request handler.
    int handle(Request& request);

private:
    int _port;
    std::unique_ptr<Poco::Net::HTTPServer> _server;
    mutable std::mutex _mutex;
    std::vector<Request> _requests;
    int _failLeft = 0;
    int _failStatus = 500;
    std::chrono::milliseconds _delay{0};
};

}  // namespace te::test
