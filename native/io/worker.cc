#include "worker.h"

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "../packet/bytes.h"
#include "dataplane.h"

namespace las {

namespace {
constexpr uint32_t kMaxBatchMessages = 1024;
constexpr uint32_t kBusySweepBudget = 256;    // slots examined per RX block
constexpr uint32_t kIdleSweepBudget = 65536;  // slots examined per idle wake-up (<= 100 ms)
constexpr int kPollTimeoutMs = 100;           // bounds how late a snapshot or stop is noticed
constexpr uint32_t kStatsPeriodMs = 250;
}  // namespace

uint32_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);  // vDSO: no syscall
  return static_cast<uint32_t>(ts.tv_sec * 1000ull + ts.tv_nsec / 1000000);
}

Worker::Worker(Dataplane& dp, uint32_t index)
    : dp_(dp),
      state_(dp.config().flow_capacity, dp.config().idle_ms, index),
      mode_(dp.config().tx_mode),
      pass_through_(dp.config().pass_through) {
  const DataplaneConfig& cfg = dp.config();
  int in_idx = interface_index(cfg.ingress_if);
  int out_idx = interface_index(cfg.egress_if);
  state_.ingress_mac = interface_mac(cfg.ingress_if);
  state_.egress_mac = interface_mac(cfg.egress_if);
  rx_.reset(new RxRing(in_idx, cfg.ring, cfg.filter, cfg.workers > 1 ? cfg.fanout_id : -1));
  arp_fd_ = open_tx_socket(in_idx, true);
  if (mode_ == TxMode::Ring) {
    tx_ring_.reset(new TxRing(out_idx, 2048, 4096));
  } else {
    tx_fd_ = open_tx_socket(out_idx, true);
    mmsg_.resize(kMaxBatchMessages);
    mmsg_len_.resize(kMaxBatchMessages);
    tags_.resize(kMaxBatchMessages);
    iov_.resize(kMaxBatchMessages * 3);
  }
  scratch_.resize(cfg.ring.frame_size + 4);
}

Worker::~Worker() { close_io(); }

void Worker::close_io() {
  if (tx_fd_ >= 0) close(tx_fd_);
  if (arp_fd_ >= 0) close(arp_fd_);
  tx_fd_ = arp_fd_ = -1;
  rx_.reset();
  tx_ring_.reset();
}

void Worker::apply_expiries(uint32_t budget) {
  ExpireCommand cmd;
  for (uint32_t n = 0; n < budget && expiries_.pop(cmd); ++n) {
    FlowEntry* e = state_.flows.find(cmd.key, hash_flow(cmd.key, kFlowTableSeed));
    if (!e || e->last_seen_ms != cmd.last_seen_ms) continue;  // seen again since the decision: keep it
    WorkerState::on_erase(&state_, *e);
    state_.flows.erase(e);
    state_.counters.flows_expired.add(1);
  }
}

const Snapshot* Worker::refresh_snapshot() {
  Snapshot* s = dp_.current().load(std::memory_order_acquire);
  if (s != snap_) {
    snap_ = s;
    state_.adopt(*s);
    seen_generation.store(s->generation, std::memory_order_release);
  }
  return snap_;
}

void Worker::housekeeping(uint32_t now_ms, uint32_t sweep_budget) {
  apply_expiries(sweep_budget);
  uint32_t removed = state_.sweep(now_ms, sweep_budget);
  if (removed) state_.counters.flows_expired.add(removed);
  state_.counters.flows_active.set(state_.flows.size());
  if (now_ms - last_stats_ms_ >= kStatsPeriodMs) {
    last_stats_ms_ = now_ms;
    uint64_t packets, drops;
    rx_->read_stats(packets, drops);
    state_.counters.ring_packets.add(packets);
    state_.counters.ring_drops.add(drops);
  }
}

void Worker::run() {
  refresh_snapshot();
  pollfd pfd{rx_->fd(), POLLIN | POLLERR, 0};
  uint32_t b = 0;
  while (dp_.running()) {
    tpacket_block_desc* block = rx_->block(b);
    if (!(__atomic_load_n(&block->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
      refresh_snapshot();
      housekeeping(monotonic_ms(), kIdleSweepBudget);
      poll(&pfd, 1, kPollTimeoutMs);
      continue;
    }
    // New snapshots take effect between blocks, never inside one.
    const Snapshot* snap = refresh_snapshot();
    uint32_t now_ms = monotonic_ms();
    process_block(block, *snap, now_ms);
    __atomic_store_n(&block->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    b = (b + 1) % rx_->block_count();
    housekeeping(now_ms, kBusySweepBudget);
  }
  flush();
}

void Worker::process_block(tpacket_block_desc* block, const Snapshot& snap, uint32_t now_ms) {
  WorkerCounters& c = state_.counters;
  const uint32_t n = block->hdr.bh1.num_pkts;
  auto* pkt = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(block) + block->hdr.bh1.offset_to_first_pkt);
  // Two passes per chunk: parse and prefetch every frame's flow slot, then decide (classify.h).
  constexpr uint32_t kChunk = 16;
  tpacket3_hdr* hdrs[kChunk];
  Prepared prepared[kChunk];
  for (uint32_t done = 0; done < n;) {
    const uint32_t m = n - done < kChunk ? n - done : kChunk;
    for (uint32_t k = 0; k < m; ++k) {
      hdrs[k] = pkt;
      c.rx_packets.add(1);
      c.rx_bytes.add(pkt->tp_len);
      if (!pass_through_ && pkt->tp_snaplen == pkt->tp_len)
        prepare(reinterpret_cast<uint8_t*>(pkt) + pkt->tp_mac, pkt->tp_snaplen, snap, state_, prepared[k]);
      pkt = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(pkt) + pkt->tp_next_offset);
    }
    for (uint32_t k = 0; k < m; ++k) handle_frame(hdrs[k], snap, now_ms, prepared[k]);
    done += m;
  }
  flush();
  c.batches.add(1);
}

void Worker::handle_frame(tpacket3_hdr* pkt, const Snapshot& snap, uint32_t now_ms, const Prepared& prepared) {
  WorkerCounters& c = state_.counters;
  uint8_t* frame = reinterpret_cast<uint8_t*>(pkt) + pkt->tp_mac;
  uint32_t len = pkt->tp_snaplen;
  if (pkt->tp_snaplen < pkt->tp_len) {
    c.drop(DropReason::TruncatedCapture);
    return;
  }
  // The kernel moved an 802.1Q tag out of the frame: put it back on the way out.
  uint8_t tag[4];
  const uint8_t* vlan = nullptr;
  if (pkt->tp_status & TP_STATUS_VLAN_VALID) {
    uint16_t tpid = (pkt->tp_status & TP_STATUS_VLAN_TPID_VALID) ? pkt->hv1.tp_vlan_tpid : kEthVlan;
    store_be16(tag, tpid);
    store_be16(tag + 2, static_cast<uint16_t>(pkt->hv1.tp_vlan_tci));
    vlan = tag;
  }
  bool csum = (pkt->tp_status & TP_STATUS_CSUMNOTREADY) != 0;
  Decision d = pass_through_ ? pass_through(frame, len, snap) : decide(frame, len, csum, snap, state_, now_ms, prepared);
  if (d.action == Action::Forward) {
    transmit(frame, len, vlan);
  } else if (d.action == Action::ArpReply) {
    const uint8_t* out = frame;
    uint32_t out_len = len;
    if (vlan && len + 4 <= scratch_.size()) {
      std::memcpy(scratch_.data(), frame, 12);
      std::memcpy(scratch_.data() + 12, vlan, 4);
      std::memcpy(scratch_.data() + 16, frame + 12, len - 12);
      out = scratch_.data();
      out_len = len + 4;
    }
    if (send(arp_fd_, out, out_len, MSG_DONTWAIT) < 0) c.drop(DropReason::TxError);
  }
}

Decision Worker::pass_through(uint8_t* frame, uint32_t len, const Snapshot& snap) {
  if (len < kEthHeaderLen || snap.services.empty() || snap.services[0].spec.servers.empty())
    return Decision{Action::Drop, DropReason::NoServer, -1, -1};
  std::memcpy(frame, snap.services[0].spec.servers[0].mac.bytes, 6);
  std::memcpy(frame + 6, state_.egress_mac.bytes, 6);
  return Decision{Action::Forward, DropReason::Count, 0, 0};
}

void Worker::transmit(uint8_t* frame, uint32_t len, const uint8_t* vlan) {
  WorkerCounters& c = state_.counters;
  uint32_t out_len = len + (vlan ? 4 : 0);
  if (mode_ == TxMode::Ring) {
    if (!tx_ring_->enqueue(frame, len, vlan)) {
      // Full: hand the queued frames to the kernel and try once more before dropping.
      tx_ring_->flush();
      if (!tx_ring_->enqueue(frame, len, vlan)) {
        c.drop(DropReason::TxRingFull);
        return;
      }
    }
  } else if (mode_ == TxMode::Send) {
    // Measured faster than the TX ring on veth, where the ring is not zero-copy (shared/perf-notes.md).
    const uint8_t* out = frame;
    if (vlan) {
      std::memcpy(scratch_.data(), frame, 12);
      std::memcpy(scratch_.data() + 12, vlan, 4);
      std::memcpy(scratch_.data() + 16, frame + 12, len - 12);
      out = scratch_.data();
    }
    if (send(tx_fd_, out, out_len, MSG_DONTWAIT) < 0) {
      c.drop(DropReason::TxError);
      return;
    }
  } else {
    // sendmmsg: the RX block stays ours until flush(), so iovecs point straight into it; a VLAN tag
    // is kept in a per-message slot for the same time.
    iovec* v = &iov_[mmsg_count_ * 3];
    int parts = 1;
    if (vlan) {
      uint8_t* tag = tags_[mmsg_count_].data();
      std::memcpy(tag, vlan, 4);
      v[0] = {frame, 12};
      v[1] = {tag, 4};
      v[2] = {frame + 12, len - 12};
      parts = 3;
    } else {
      v[0] = {frame, len};
    }
    mmsghdr& m = mmsg_[mmsg_count_];
    std::memset(&m, 0, sizeof m);
    m.msg_hdr.msg_iov = v;
    m.msg_hdr.msg_iovlen = parts;
    mmsg_len_[mmsg_count_] = out_len;
    if (++mmsg_count_ == kMaxBatchMessages) flush();
    return;  // counted when sent
  }
  c.tx_packets.add(1);
  c.tx_bytes.add(out_len);
}

void Worker::flush() {
  if (mode_ == TxMode::Ring) {
    if (tx_ring_ && !tx_ring_->flush()) state_.counters.drop(DropReason::TxError);
    return;
  }
  WorkerCounters& c = state_.counters;
  uint32_t sent = 0;
  while (sent < mmsg_count_) {
    int rc = sendmmsg(tx_fd_, &mmsg_[sent], mmsg_count_ - sent, MSG_DONTWAIT);
    if (rc <= 0) {
      // The kernel refused the message at `sent`: count it lost and go on with the rest.
      c.drop(DropReason::TxError);
      ++sent;
      continue;
    }
    for (int i = 0; i < rc; ++i) {
      c.tx_packets.add(1);
      c.tx_bytes.add(mmsg_len_[sent + i]);
    }
    sent += static_cast<uint32_t>(rc);
  }
  mmsg_count_ = 0;
}

}  // namespace las
