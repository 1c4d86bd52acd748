#pragma once

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace te::test {

// Passes TCP connections from a free port on 127.0.0.1 on to a server (PostgreSQL) on
// another, byte for byte, and breaks them at a chosen moment of the wire protocol: the
// network failing around a COMMIT, which no real server can be made to do on cue.
// Thread safety: arm() and cuts() from any thread; one thread per relayed connection.
class TcpRelay {
public:
    enum class Cut {
        None,
        // The next message from a client that carries COMMIT is dropped and the connection
        // closed: the server never commits.
        BeforeCommit,
        // The next answer from the server that carries COMMIT's completion is dropped and the
        // client's connection closed: the server committed, the client never hears it. The
        // server's connection stays open (its process idle) until the server closes it.
        AfterCommit,
    };

    explicit TcpRelay(int targetPort);
    ~TcpRelay();
    TcpRelay(const TcpRelay&) = delete;
    TcpRelay& operator=(const TcpRelay&) = delete;

    int port() const { return _listener.address().port(); }
    void arm(Cut cut) { _armed = cut; }
    int cuts() const { return _cuts; }

private:
    void acceptLoop();
    void relay(Poco::Net::StreamSocket client);
    // True when the chunk that just came in completes a COMMIT the armed cut waits for
    // (`tail` carries the end of the previous chunk, in case the word spans two).
    bool cutsHere(Cut direction, std::string& tail, const char* data, int size);

    const int _targetPort;
    Poco::Net::ServerSocket _listener;
    std::atomic<Cut> _armed{Cut::None};
    std::atomic<int> _cuts{0};
    std::atomic<bool> _stopping{false};
    std::thread _acceptor;
    std::mutex _mutex;
    std::vector<std::thread> _relays;
};

}  // namespace te::test
