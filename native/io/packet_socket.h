// AF_PACKET sockets: a TPACKET_V3 RX ring (block-based, so one wake-up serves a whole batch) and a
// TPACKET_V2 TX ring flushed with one send per batch, or plain send()/sendmmsg() from the RX frame.
// The forwarding sockets carry the virtio-net header (packet/vnet.h) before every frame, both ways.
#pragma once
#include <linux/filter.h>
#include <linux/if_packet.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../packet/bytes.h"
#include "../packet/vnet.h"

namespace las {

struct RingConfig {
  uint32_t block_size;
  uint32_t block_count;
  uint32_t frame_size;  // TX ring slot; 0: sized from the egress MTU (the RX ring's frames are variable)
  uint32_t retire_timeout_ms;
};

// The smallest RX block (a power of two) that holds the longest frame an interface with this MTU can
// hand a packet socket: a full-MTU frame with two VLAN tags, or a GSO super-frame of up to 64 KiB (a
// peer's TSO, the NIC's GRO), whichever is larger. And the TX ring slot a full-MTU frame needs.
uint32_t min_rx_block_size(uint32_t mtu);
uint32_t tx_slot_size_for_mtu(uint32_t mtu);
// Throws, naming the config field and the size it needs, when the RX blocks cannot hold the largest
// frame the ingress interface delivers or the TX slots (if set) a full-MTU frame of the egress one.
void check_ring_sizes(const RingConfig& ring, const std::string& ingress_if, uint32_t ingress_mtu,
                      const std::string& egress_if, uint32_t egress_mtu);

// Throws std::runtime_error naming the step and the errno on every failure.
int interface_index(const std::string& name);
Mac interface_mac(const std::string& name);
uint32_t interface_mtu(const std::string& name);

struct RxOptions {
  bool vnet_hdr = false;  // a virtio-net header before each frame (tpacket3_hdr::tp_mac - kVnetHdrLen)
  int fanout_id = -1;     // >= 0: join this PACKET_FANOUT_CBPF group (set its program with set_fanout_program)
};

class RxRing {
 public:
  RxRing(int ifindex, const RingConfig& cfg, const std::vector<sock_filter>& filter, RxOptions opts);
  ~RxRing();
  RxRing(const RxRing&) = delete;
  RxRing& operator=(const RxRing&) = delete;

  int fd() const { return fd_; }
  // Replaces the socket filter; the kernel swaps it atomically (a reload with new VIPs).
  void attach_filter(const std::vector<sock_filter>& filter);
  // Replaces the fanout group's program (PACKET_FANOUT_DATA): the kernel swaps it atomically.
  void set_fanout_program(const std::vector<sock_filter>& program);
  tpacket_block_desc* block(uint32_t i) const {
    return reinterpret_cast<tpacket_block_desc*>(map_ + static_cast<size_t>(i) * cfg_.block_size);
  }
  uint32_t block_count() const { return cfg_.block_count; }
  // PACKET_STATISTICS: packets seen and dropped since the last call (the kernel resets them).
  void read_stats(uint64_t& packets, uint64_t& drops);
  // Reads and clears the socket's pending error (SO_ERROR), e.g. ENETDOWN when the interface went
  // down: until it is read, poll() reports POLLERR at once and the worker would spin.
  int take_error();

 private:
  int fd_ = -1;
  uint8_t* map_ = nullptr;
  size_t map_len_ = 0;
  RingConfig cfg_;
};

// Frames are queued with their virtio-net header (PACKET_VNET_HDR is set on the ring's socket).
class TxRing {
 public:
  TxRing(int ifindex, uint32_t frame_size, uint32_t frame_count);
  ~TxRing();
  TxRing(const TxRing&) = delete;
  TxRing& operator=(const TxRing&) = delete;

  // The longest frame (without its header, with a re-inserted VLAN tag) one slot holds.
  uint32_t max_frame_len() const;
  // Copies header and frame into the next free slot; false when the ring is full.
  bool enqueue(const VnetHdr& vnet, const uint8_t* frame, uint32_t len, const uint8_t* vlan_tag);
  // One syscall hands every queued frame to the driver. Returns false on a send error.
  bool flush();
  uint32_t queued() const { return queued_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  uint8_t* map_ = nullptr;
  size_t map_len_ = 0;
  uint32_t frame_size_;
  uint32_t frame_count_;
  uint32_t per_block_;
  uint32_t block_size_;
  uint32_t next_ = 0;
  uint32_t queued_ = 0;
};

// A bound packet socket for direct sends (txMode send/sendmmsg, ARP replies, tests). With vnet_hdr
// every frame sent on it must start with a virtio-net header.
int open_tx_socket(int ifindex, bool qdisc_bypass, bool vnet_hdr = false);

}  // namespace las
