// The virtio-net header that a PACKET_VNET_HDR socket puts before each received frame and expects
// before each frame it sends. It carries the kernel's offload state: a TCP super-frame's
// segmentation (gso_type, gso_size, hdr_len) and a partial checksum (csum_start, csum_offset). Handed
// back unchanged on transmit, it lets the kernel segment at egress (or pass GSO on) and finish the
// checksum, so LAS forwards offloaded traffic without touching a payload byte.
#pragma once
#include <cstdint>

namespace las {

// struct virtio_net_hdr (linux/virtio_net.h, which does not compile as C++): the 10-byte legacy
// header that PACKET_VNET_HDR selects, its fields in host byte order.
struct VnetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;      // bytes of headers before the payload
  uint16_t gso_size;     // payload bytes per segment
  uint16_t csum_start;   // from the start of the frame
  uint16_t csum_offset;  // from csum_start
};
static_assert(sizeof(VnetHdr) == 10, "virtio_net_hdr is 10 bytes");

constexpr uint32_t kVnetHdrLen = sizeof(VnetHdr);
constexpr uint8_t kVnetNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr uint8_t kVnetGsoEcn = 0x80;  // VIRTIO_NET_HDR_GSO_ECN, a flag on top of the type

inline bool vnet_is_gso(const VnetHdr& h) { return (h.gso_type & ~kVnetGsoEcn) != 0; }

// A VLAN tag put back at byte 12 moves every offset that counts from the start of the frame.
inline void vnet_shift(VnetHdr& h, uint16_t by) {
  if (h.flags & kVnetNeedsCsum) h.csum_start = static_cast<uint16_t>(h.csum_start + by);
  if (h.hdr_len) h.hdr_len = static_cast<uint16_t>(h.hdr_len + by);
}

}  // namespace las
