#pragma once

#include <Poco/Net/HTTPServer.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace te::test {

// A real HTTP server on 127.0.0.1 that records every request and answers as scripted: the
// statuses queued with script() first, then defaultStatus; each answer after `delay`.
// Thread-safe; started by start(), stopped by stop() or the destructor.
class RecordingReceiver {
public:
    struct Request {
        std::string method;
        std::string path;
        std::map<std::string, std::string> headers;  // names lower-case
        std::string body;
        int status = 0;  // what we answered
        std::chrono::steady_clock::time_point at;
    };

    // port 0: any free port. pemFile non-empty: serve HTTPS with the certificate and key in
    // it (clients trust it through SSL_CERT_FILE, which OpenSSL's default paths read).
    explicit RecordingReceiver(int port = 0, std::string pemFile = "");
    ~RecordingReceiver();
    RecordingReceiver(const RecordingReceiver&) = delete;
    RecordingReceiver& operator=(const RecordingReceiver&) = delete;

    void start();
    void stop();

    int port() const { return _port; }
    std::string url(const std::string& path = "/hook") const;

    void script(const std::vector<int>& statuses);
    void setDefaultStatus(int status);
    void setDelay(std::chrono::milliseconds delay);

    std::vector<Request> requests() const;
    std::size_t count() const;
    int active() const { return _active; }  // requests being handled right now

    // Called by the handler.
    int answer(Request request);
    void enter() { ++_active; }
    void leave() { --_active; }
    std::chrono::milliseconds delay() const;

private:
    int _port;
    std::string _pemFile;
    std::unique_ptr<Poco::Net::HTTPServer> _server;
    mutable std::mutex _mu;
    std::deque<int> _script;
    int _defaultStatus = 200;
    std::chrono::milliseconds _delay{0};
    std::vector<Request> _requests;
    std::atomic<int> _active{0};
};

}  // namespace te::test
