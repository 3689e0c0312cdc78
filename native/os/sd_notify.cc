#include "sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace las {

void sd_notify_send(const std::string& socket_path, const std::string& message) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const bool abstract = !socket_path.empty() && socket_path[0] == '@';
  if (!abstract && (socket_path.empty() || socket_path[0] != '/')) {
    throw std::invalid_argument("NOTIFY_SOCKET \"" + socket_path + "\" is neither an absolute path nor an abstract \"@name\"");
  }
  // A path needs its terminating NUL in sun_path; an abstract name is its bytes after a leading NUL.
  if (socket_path.size() + (abstract ? 0 : 1) > sizeof(addr.sun_path)) {
    throw std::invalid_argument("NOTIFY_SOCKET is longer than a unix socket address (" + std::to_string(sizeof(addr.sun_path)) + " bytes)");
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  if (abstract) addr.sun_path[0] = '\0';
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path.size() + (abstract ? 0 : 1));

  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "sd_notify: socket(AF_UNIX, SOCK_DGRAM)");
  const ssize_t sent = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
  const int error = errno;
  close(fd);
  if (sent < 0) throw std::system_error(error, std::generic_category(), "sd_notify: sendto " + socket_path);
}

}  // namespace las
