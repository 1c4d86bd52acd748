#pragma once

#include <string>

// The service manager's readiness protocol (sd_notify(3)), for units of Type=notify: systemd
// passes a datagram socket in NOTIFY_SOCKET and waits for "READY=1" before it calls the unit
// started, so `systemctl start` fails when the program does, and units ordered after it start
// once it serves. A dozen lines of a stable protocol, not worth a dependency on libsystemd.
namespace te::systemd {

// Takes NOTIFY_SOCKET out of the environment, so that the processes a worker starts for its
// tasks do not inherit it, and keeps it for notify(). Call once, before any thread starts.
void takeNotifySocket();

// Sends `state` ("READY=1", "STOPPING=1", "STATUS=...", lines joined by '\n') to the socket
// taken above. Does nothing when there was none (not started by systemd, or not Type=notify)
// and on Windows; never throws: a lost notification must not stop the program.
void notify(const std::string& state);

}  // namespace te::systemd
