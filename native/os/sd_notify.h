// systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram to the AF_UNIX socket
// systemd names in $NOTIFY_SOCKET. Node cannot send unix datagrams, hence this.
#pragma once
#include <string>

namespace las {

// Sends `message` ("READY=1", "STATUS=...", lines separated by '\n') to `socket_path`: a filesystem
// path, or an abstract name written "@name". Throws std::invalid_argument for a path that is not
// absolute, not abstract or too long, std::system_error with the errno of socket/sendto otherwise.
void sd_notify_send(const std::string& socket_path, const std::string& message);

}  // namespace las
