// AF_PACKET sockets: a TPACKET_V3 RX ring (block-based, so one wake-up serves a whole batch) and a
// TPACKET_V2 TX ring flushed with one send per batch, or plain send()/sendmmsg() from the RX frame.
#pragma once
#include <linux/filter.h>
#include <linux/if_packet.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../packet/bytes.h"

namespace las {

struct RingConfig {
  uint32_t block_size;
  uint32_t block_count;
  uint32_t frame_size;
  uint32_t retire_timeout_ms;
};

// Throws std::runtime_error naming the step and the errno on every failure.
int interface_index(const std::string& name);
Mac interface_mac(const std::string& name);
uint32_t interface_mtu(const std::string& name);

class RxRing {
 public:
  RxRing(int ifindex, const RingConfig& cfg, const std::vector<sock_filter>& filter, int fanout_id);
  ~RxRing();
  RxRing(const RxRing&) = delete;
  RxRing& operator=(const RxRing&) = delete;

  int fd() const { return fd_; }
  // Replaces the socket filter; the kernel swaps it atomically (a reload with new VIPs).
  void attach_filter(const std::vector<sock_filter>& filter);
  tpacket_block_desc* block(uint32_t i) const {
    return reinterpret_cast<tpacket_block_desc*>(map_ + static_cast<size_t>(i) * cfg_.block_size);
  }
  uint32_t block_count() const { return cfg_.block_count; }
  // PACKET_STATISTICS: packets seen and dropped since the last call (the kernel resets them).
  void read_stats(uint64_t& packets, uint64_t& drops);

 private:
  int fd_ = -1;
  uint8_t* map_ = nullptr;
  size_t map_len_ = 0;
  RingConfig cfg_;
};

class TxRing {
 public:
  TxRing(int ifindex, uint32_t frame_size, uint32_t frame_count);
  ~TxRing();
  TxRing(const TxRing&) = delete;
  TxRing& operator=(const TxRing&) = delete;

  // Copies the frame into the next free slot; false when the ring is full.
  bool enqueue(const uint8_t* frame, uint32_t len, const uint8_t* vlan_tag);
  // One syscall hands every queued frame to the driver. Returns false on a send error.
  bool flush();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  uint8_t* map_ = nullptr;
  size_t map_len_ = 0;
  uint32_t frame_size_;
  uint32_t frame_count_;
  uint32_t next_ = 0;
  uint32_t queued_ = 0;
};

// A bound packet socket for direct sends (txMode send/sendmmsg, ARP replies, tests).
int open_tx_socket(int ifindex, bool qdisc_bypass);

}  // namespace las
