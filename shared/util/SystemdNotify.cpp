#include "shared/util/SystemdNotify.h"

#ifndef _WIN32
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#endif

namespace te::systemd {

#ifndef _WIN32
namespace {
std::string& socketPath() {
    static std::string path;
    return path;
}
}  // namespace
#endif

void takeNotifySocket() {
#ifndef _WIN32
    if (const char* path = std::getenv("NOTIFY_SOCKET")) {
        socketPath() = path;
        ::unsetenv("NOTIFY_SOCKET");
    }
#endif
}

void notify(const std::string& state) {
#ifndef _WIN32
    const std::string& path = socketPath();
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    // A file path, or '@' for Linux's abstract namespace; systemd also knows vsock addresses,
    // which only virtual machines' managers hand out.
    if (path.empty() || (path[0] != '/' && path[0] != '@') ||
        path.size() > sizeof(address.sun_path)) {
        return;
    }
    std::memcpy(address.sun_path, path.data(), path.size());
    if (path[0] == '@') address.sun_path[0] = '\0';
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    (void)::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                   reinterpret_cast<const sockaddr*>(&address), length);
    ::close(fd);
#else
    (void)state;
#endif
}

}  // namespace te::systemd
