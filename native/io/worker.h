// One I/O thread: drains its RX ring block by block, decides every frame, transmits the batch.
// process_block() is the per-frame loop; the benchmark's pass-through worker (native/bench/) swaps
// in its own and keeps the rest (rings, waiting, transmit), so the two differ only in the decision.
#pragma once
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <memory>
#include <vector>

#include "../dataplane/classify.h"
#include "expire_queue.h"
#include "explain_mailbox.h"
#include "packet_socket.h"
#include "trace.h"

namespace las {

class Dataplane;
enum class TxMode : uint8_t;

class Worker {
 public:
  Worker(Dataplane& dp, uint32_t index);
  virtual ~Worker();

  void run();
  // After the thread ended: the sockets go, the flow table and counters stay readable.
  void close_io();
  // Replaces the RX socket filter (a reload that changes the VIPs); the kernel swaps it atomically.
  void set_filter(const std::vector<sock_filter>& filter) { if (rx_) rx_->attach_filter(filter); }
  // Any member's socket sets the whole fanout group's program.
  void set_fanout_program(const std::vector<sock_filter>& program) { if (rx_) rx_->set_fanout_program(program); }
  WorkerState& state() { return state_; }
  ExpireQueue& expiries() { return expiries_; }
  ExpireQueue6& expiries6() { return expiries6_; }
  ExplainMailbox& explains() { return explains_; }
  TraceRing& trace_ring() { return trace_ring_; }
  // The trace set generation this worker has taken; older sets may be freed once all moved on.
  std::atomic<uint64_t> seen_trace{0};
  // The snapshot generation this worker is using; older snapshots may be freed once all moved on.
  std::atomic<uint64_t> seen_generation{0};

 protected:
  // A received frame as the kernel left it in the ring.
  struct RxFrame {
    uint8_t* data;
    uint32_t len;
    VnetHdr* vnet;           // the offload state the kernel wrote before the frame (PACKET_VNET_HDR)
    bool gso;                // a super-frame: its segmentation is left to the kernel
    uint8_t tag[4];          // the 802.1Q tag the kernel took out of the frame, when vlan is set
    const uint8_t* vlan;
  };
  // False for a frame the ring holds only in part (counted as truncated_capture).
  bool open_frame(tpacket3_hdr* pkt, RxFrame& f);
  // Without segmentation offsets the kernel cannot cut a frame down to the egress MTU: such a frame
  // is dropped here, counted, rather than left to fail in the send.
  bool fits_egress(const RxFrame& f, uint32_t l3_offset);
  // Transmits a frame whose MACs are rewritten, its VLAN tag put back.
  void forward(RxFrame& f);
  void send_reply(const uint8_t* frame, uint32_t len, const uint8_t* vlan);
  void flush();
  virtual void process_block(tpacket_block_desc* block, const Snapshot& snap, uint32_t now_ms);

  WorkerState state_;

 private:
  void ignore_block(tpacket_block_desc* block);
  template <bool Traced>
  void process_frames(tpacket_block_desc* block, const Snapshot& snap, uint32_t now_ms);
  template <bool Traced>
  void handle_frame(tpacket3_hdr* pkt, const Snapshot& snap, uint32_t now_ms, const Prepared& prepared);
  // Matches one decision against the running trace filters and keeps it if one takes it. pr is null
  // for a frame that was not parsed (truncated capture).
  void trace(const tpacket3_hdr* pkt, const Snapshot& snap, const Prepared* pr, const Decision& d);
  void refresh_trace();
  void transmit(VnetHdr* vnet, uint8_t* frame, uint32_t len, const uint8_t* vlan_tag);
  // Fills msg with iovecs for header, frame and a re-inserted VLAN tag (kept in `tag`).
  void build_message(mmsghdr& msg, iovec* iov, uint8_t* tag, VnetHdr* vnet, uint8_t* frame, uint32_t len,
                const uint8_t* vlan_tag);
  bool send_one(VnetHdr* vnet, uint8_t* frame, uint32_t len, const uint8_t* vlan_tag);
  const Snapshot* refresh_snapshot();
  void housekeeping(uint32_t now_ms, uint32_t sweep_budget);
  void apply_expiries(uint32_t budget);
  void answer_explains();

  Dataplane& dp_;
  std::unique_ptr<RxRing> rx_;
  std::unique_ptr<TxRing> tx_ring_;
  int tx_fd_ = -1;   // send/sendmmsg modes, and frames too long for a TX ring slot
  int arp_fd_ = -1;  // ARP replies leave by the ingress interface
  TxMode mode_;
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
  ExpireQueue6 expiries6_;
  ExplainMailbox explains_;
  const TraceSet* trace_ptr_ = nullptr;  // the set last taken, compared once per block
  TraceSet trace_{};                     // its copy: the worker never reads the shared one again
  uint32_t trace_hits_[kMaxTraceFilters] = {};  // matches per filter, for sampling
  TraceRing trace_ring_;
};

uint32_t monotonic_ms();

}  // namespace las
