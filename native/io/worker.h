// One I/O thread: drains its RX ring block by block, decides every frame, transmits the batch.
#pragma once
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <memory>
#include <vector>

#include "../dataplane/classify.h"
#include "expire_queue.h"
#include "packet_socket.h"

namespace las {

class Dataplane;
enum class TxMode : uint8_t;

class Worker {
 public:
  Worker(Dataplane& dp, uint32_t index);
  ~Worker();

  void run();
  void close_io();
  void set_filter(const std::vector<sock_filter>& filter) { if (rx_) rx_->attach_filter(filter); }
  // Any member's socket sets the whole fanout group's program.
  void set_fanout_program(const std::vector<sock_filter>& program) { if (rx_) rx_->set_fanout_program(program); }
  WorkerState& state() { return state_; }
  ExpireQueue& expiries() { return expiries_; }
  // The snapshot generation this worker is using; older snapshots may be freed once all moved on.
  std::atomic<uint64_t> seen_generation{0};

 private:
  void process_block(tpacket_block_desc* block, const Snapshot& snap, uint32_t now_ms);
  void handle_frame(tpacket3_hdr* pkt, const Snapshot& snap, uint32_t now_ms, const Prepared& prepared);
  Decision pass_through(uint8_t* frame, uint32_t len, const Snapshot& snap);
  void transmit(VnetHdr* vnet, uint8_t* frame, uint32_t len, const uint8_t* vlan_tag);
  // Fills msg with iovecs for header, frame and a re-inserted VLAN tag (kept in `tag`).
  void build_message(mmsghdr& msg, iovec* iov, uint8_t* tag, VnetHdr* vnet, uint8_t* frame, uint32_t len,
                const uint8_t* vlan_tag);
  bool send_one(VnetHdr* vnet, uint8_t* frame, uint32_t len, const uint8_t* vlan_tag);
  void flush();
  const Snapshot* refresh_snapshot();
  void housekeeping(uint32_t now_ms, uint32_t sweep_budget);
  void apply_expiries(uint32_t budget);

  Dataplane& dp_;
  WorkerState state_;
  std::unique_ptr<RxRing> rx_;
  std::unique_ptr<TxRing> tx_ring_;
  int tx_fd_ = -1;   // send/sendmmsg modes, and frames too long for a TX ring slot
  int arp_fd_ = -1;  // ARP replies leave by the ingress interface
  TxMode mode_;
  bool pass_through_;
  uint32_t workers_;      // > 1: frames are spread by the fanout program, whose choice is checked
  uint32_t egress_mtu_;   // a frame longer than this (and not a super-frame) cannot be sent
  std::vector<mmsghdr> mmsg_;
  std::vector<iovec> iov_;
  std::vector<uint32_t> mmsg_len_;
  std::vector<std::array<uint8_t, 4>> tags_;
  uint32_t mmsg_count_ = 0;
  std::vector<uint8_t> scratch_;  // VLAN re-insertion for ARP replies
  uint32_t last_stats_ms_ = 0;
  uint32_t last_idle_sweep_ms_ = 0;
  const Snapshot* snap_ = nullptr;
  ExpireQueue expiries_;
};

uint32_t monotonic_ms();

}  // namespace las
