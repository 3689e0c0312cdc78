#include "frame_sender.h"

#include <sys/socket.h>
#include <unistd.h>

#include "../io/packet_socket.h"

namespace las {

uint32_t send_frames(const std::string& ifname, const std::vector<FrameView>& frames) {
  int fd = open_tx_socket(interface_index(ifname), false);
  uint32_t sent = 0;
  for (const FrameView& f : frames)
    if (send(fd, f.data, f.len, 0) == static_cast<ssize_t>(f.len)) ++sent;
  close(fd);
  return sent;
}

}  // namespace las
