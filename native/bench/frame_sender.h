// Sends caller-built frames out of an interface: the malformed-frame flood in tests and small probes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace las {

struct FrameView {
  const uint8_t* data;
  uint32_t len;
};

// Returns how many frames the kernel accepted.
uint32_t send_frames(const std::string& ifname, const std::vector<FrameView>& frames);

}  // namespace las
