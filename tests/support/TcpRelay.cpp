#include "tests/support/TcpRelay.h"

#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>

#include <array>

namespace te::test {
namespace {

// In a client's Parse or Query message the statement text ends with a NUL; in the server's
// CommandComplete so does the tag. Either way the bytes are the same.
const std::string kCommit("COMMIT\0", 7);
const Poco::Timespan kPoll(0, 50 * 1000);

}  // namespace

TcpRelay::TcpRelay(int targetPort)
    : _targetPort(targetPort), _listener(Poco::Net::SocketAddress("127.0.0.1", 0)) {
    _acceptor = std::thread([this] { acceptLoop(); });
}

TcpRelay::~TcpRelay() {
    _stopping = true;
    if (_acceptor.joinable()) _acceptor.join();
    std::lock_guard<std::mutex> lock(_mutex);
    for (auto& t : _relays) t.join();
}

void TcpRelay::acceptLoop() {
    while (!_stopping) {
        if (!_listener.poll(kPoll, Poco::Net::Socket::SELECT_READ)) continue;
        Poco::Net::StreamSocket client = _listener.acceptConnection();
        std::lock_guard<std::mutex> lock(_mutex);
        _relays.emplace_back([this, client] { relay(client); });
    }
}

bool TcpRelay::cutsHere(Cut direction, std::string& tail, const char* data, int size) {
    std::string seen = tail + std::string(data, size);
    tail = seen.substr(seen.size() > kCommit.size() ? seen.size() - kCommit.size() : 0);
    if (_armed != direction || seen.find(kCommit) == std::string::npos) return false;
    Cut expected = direction;
    if (!_armed.compare_exchange_strong(expected, Cut::None)) return false;
    ++_cuts;
    return true;
}

void TcpRelay::relay(Poco::Net::StreamSocket client) {
    Poco::Net::StreamSocket server;
    try {
        server.connect(
            Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(_targetPort)));
    } catch (const Poco::Exception&) {
        return;  // the server is down: the client sees its connection closed, as it would
    }
    std::string fromClient, fromServer;  // the last bytes of each direction
    std::array<char, 65536> buffer;
    bool committed = false;  // cut after a COMMIT: the server's side stays open
    try {
        while (!_stopping) {
            Poco::Net::Socket::SocketList readable{client, server}, writable, failed;
            if (Poco::Net::Socket::select(readable, writable, failed, kPoll) == 0) continue;
            bool closed = false;
            for (auto& socket : readable) {
                const bool up = socket == client;
                Poco::Net::StreamSocket source(socket);
                Poco::Net::StreamSocket& sink = up ? server : client;
                const int n = source.receiveBytes(buffer.data(), static_cast<int>(buffer.size()));
                if (n <= 0) {
                    closed = true;
                    break;
                }
                if (cutsHere(up ? Cut::BeforeCommit : Cut::AfterCommit,
                             up ? fromClient : fromServer, buffer.data(), n)) {
                    committed = !up;
                    closed = true;
                    break;
                }
                sink.sendBytes(buffer.data(), n);
            }
            if (closed) break;
        }
        client.close();
        // The break was on the client's side only, as when its host loses the network: the
        // server's process does not learn of it and waits, idle, until it is stopped.
        while (committed && !_stopping) {
            if (server.poll(kPoll, Poco::Net::Socket::SELECT_READ) &&
                server.receiveBytes(buffer.data(), static_cast<int>(buffer.size())) <= 0) {
                break;
            }
        }
    } catch (const Poco::Exception&) {
        // Either side went away: close the other too, as a broken network would.
    }
    client.close();
    server.close();
}

}  // namespace te::test
