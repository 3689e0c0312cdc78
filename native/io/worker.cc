#include "worker.h"

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "../dataplane/fanout.h"
#include "../packet/bytes.h"
#include "dataplane.h"

namespace las {

namespace {
constexpr uint32_t kMaxBatchMessages = 1024;
constexpr uint32_t kIovPerMessage = 4;       // virtio-net header, MACs, VLAN tag, the rest
constexpr uint32_t kTxRingSlots = 4096;
constexpr uint32_t kArpScratchLen = 256;     // an ARP request (padded to 60 bytes, or longer) with its VLAN tag back
constexpr uint32_t kBusySweepBudget = 256;    // slots examined per RX block
constexpr uint32_t kIdleSweepBudget = 65536;  // slots examined per poll period while waiting for traffic
constexpr int kPollTimeoutMs = 100;           // bounds how late a snapshot or stop is noticed
constexpr uint32_t kStatsPeriodMs = 250;
}  // namespace

uint32_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);  // vDSO: no syscall
  return static_cast<uint32_t>(ts.tv_sec * 1000ull + ts.tv_nsec / 1000000);
}

Worker::Worker(Dataplane& dp, uint32_t index)
    : state_(dp.config().flow_capacity, dp.config().idle_ms, index, dp.config().flow6_capacity),
      dp_(dp),
      mode_(dp.config().tx_mode),
      workers_(dp.config().workers) {
  const DataplaneConfig& cfg = dp.config();
  int in_idx = interface_index(cfg.ingress_if);
  int out_idx = interface_index(cfg.egress_if);
  state_.ingress_mac = interface_mac(cfg.ingress_if);
  state_.egress_mac = interface_mac(cfg.egress_if);
  egress_mtu_ = interface_mtu(cfg.egress_if);
  check_ring_sizes(cfg.ring, cfg.ingress_if, interface_mtu(cfg.ingress_if), cfg.egress_if, egress_mtu_);
  RxOptions rx{};
  rx.vnet_hdr = true;
  rx.fanout_id = cfg.workers > 1 ? cfg.fanout_id : -1;
  rx_.reset(new RxRing(in_idx, cfg.ring, cfg.filter, rx));
  arp_fd_ = open_tx_socket(in_idx, true);
  tx_fd_ = open_tx_socket(out_idx, true, true);
  if (mode_ == TxMode::Ring) {
    tx_ring_.reset(new TxRing(out_idx, cfg.ring.frame_size ? cfg.ring.frame_size : tx_slot_size_for_mtu(egress_mtu_), kTxRingSlots));
  } else {
    mmsg_.resize(kMaxBatchMessages);
    mmsg_len_.resize(kMaxBatchMessages);
    tags_.resize(kMaxBatchMessages);
    iov_.resize(kMaxBatchMessages * kIovPerMessage);
  }
  scratch_.resize(kArpScratchLen);
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
  ExpireCommand6 cmd6;
  for (uint32_t n = 0; n < budget && expiries6_.pop(cmd6); ++n) {
    FlowEntry6* e = state_.flows6.find(cmd6.key, hash_flow6(cmd6.key, kFlowTableSeed));
    if (!e || e->last_seen_ms != cmd6.last_seen_ms) continue;
    WorkerState::on_erase6(&state_, *e);
    state_.flows6.erase(e);
    state_.counters.flows_expired.add(1);
  }
}

// Between batches, on this thread: the shard, cursors and load are read by their only writer. On
// the newest snapshot: one published before the question was asked must be in the answer.
void Worker::answer_explains() {
  ExplainRequest* r = explains_.take();
  if (!r) return;
  const Snapshot& snap = *refresh_snapshot();
  const uint32_t now_ms = monotonic_ms();
  r->answers.clear();
  for (const ExplainTuple& t : *r->tuples) r->answers.push_back(explain_flow(t, snap, state_, workers_, now_ms));
  explains_.finish();
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

// One relaxed load per block; the set is copied only when the control plane published another
// (never a null pointer: "no trace" is an empty set).
void Worker::refresh_trace() {
  const TraceSet* t = dp_.trace().load(std::memory_order_relaxed);
  if (t == trace_ptr_) return;
  std::atomic_thread_fence(std::memory_order_acquire);
  trace_ptr_ = t;
  trace_ = *t;
  for (uint32_t& h : trace_hits_) h = 0;
  seen_trace.store(t->generation, std::memory_order_release);
}

void Worker::housekeeping(uint32_t now_ms, uint32_t sweep_budget) {
  apply_expiries(sweep_budget);
  uint32_t removed = state_.sweep(now_ms, sweep_budget);
  if (removed) state_.counters.flows_expired.add(removed);
  state_.counters.flows_active.set(state_.flow_count());
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
      answer_explains();
      refresh_trace();
      // The large sweep runs once per poll period, not on every wake-up: under bulk traffic the
      // worker waits for nearly every block, and a 64 Ki-slot scan each time delays every block.
      uint32_t now_ms = monotonic_ms();
      if (now_ms - last_idle_sweep_ms_ >= static_cast<uint32_t>(kPollTimeoutMs)) {
        last_idle_sweep_ms_ = now_ms;
        housekeeping(now_ms, kIdleSweepBudget);
      }
      // The ring keeps working across a link down/up; only the pending error must be taken.
      if (poll(&pfd, 1, kPollTimeoutMs) > 0 && (pfd.revents & POLLERR)) rx_->take_error();
      continue;
    }
    // New snapshots take effect between blocks, never inside one.
    const Snapshot* snap = refresh_snapshot();
    refresh_trace();
    uint32_t now_ms = monotonic_ms();
    process_block(block, *snap, now_ms);
    __atomic_store_n(&block->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    b = (b + 1) % rx_->block_count();
    housekeeping(now_ms, kBusySweepBudget);
    answer_explains();
  }
  flush();
}

// Chosen once per block: without a trace the per-frame loop has no trace code at all. A standby
// (one relaxed load per block) only counts what it ignores.
void Worker::process_block(tpacket_block_desc* block, const Snapshot& snap, uint32_t now_ms) {
  if (!dp_.active()) return ignore_block(block);
  if (trace_.count) process_frames<true>(block, snap, now_ms);
  else process_frames<false>(block, snap, now_ms);
}

template <bool Traced>
void Worker::process_frames(tpacket_block_desc* block, const Snapshot& snap, uint32_t now_ms) {
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
      if (pkt->tp_snaplen == pkt->tp_len)
        prepare(reinterpret_cast<uint8_t*>(pkt) + pkt->tp_mac, pkt->tp_snaplen, snap, state_, prepared[k]);
      pkt = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(pkt) + pkt->tp_next_offset);
    }
    for (uint32_t k = 0; k < m; ++k) handle_frame<Traced>(hdrs[k], snap, now_ms, prepared[k]);
    done += m;
  }
  flush();
  c.batches.add(1);
}

// A standby forwards nothing and answers no ARP or NDP: each frame is counted, as standby_arp (an
// ARP frame or a Neighbor Solicitation for a VIP, which the socket filter let in) or standby (VIP
// traffic), and left alone.
static bool neighbour_request(const ParsedFrame& p, const uint8_t* frame) {
  if (p.kind == FrameKind::Arp) return true;
  return p.kind == FrameKind::Ipv6 && p.proto == kProtoIcmpv6 && p.l4_offset < p.ip_end &&
         frame[p.l4_offset] == ndp::kNeighborSolicit;
}

void Worker::ignore_block(tpacket_block_desc* block) {
  WorkerCounters& c = state_.counters;
  const uint32_t n = block->hdr.bh1.num_pkts;
  auto* pkt = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(block) + block->hdr.bh1.offset_to_first_pkt);
  for (uint32_t k = 0; k < n; ++k) {
    c.rx_packets.add(1);
    c.rx_bytes.add(pkt->tp_len);
    const uint8_t* frame = reinterpret_cast<uint8_t*>(pkt) + pkt->tp_mac;
    ParsedFrame p = parse_frame(frame, pkt->tp_snaplen);
    c.drop(neighbour_request(p, frame) ? DropReason::StandbyArp : DropReason::Standby);
    pkt = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(pkt) + pkt->tp_next_offset);
  }
  c.batches.add(1);
}

bool Worker::open_frame(tpacket3_hdr* pkt, RxFrame& f) {
  if (pkt->tp_snaplen < pkt->tp_len) {
    state_.counters.drop(DropReason::TruncatedCapture);
    return false;
  }
  f.data = reinterpret_cast<uint8_t*>(pkt) + pkt->tp_mac;
  f.len = pkt->tp_snaplen;
  f.vnet = reinterpret_cast<VnetHdr*>(f.data - kVnetHdrLen);
  f.gso = vnet_is_gso(*f.vnet);
  if (f.gso) state_.counters.gso_frames.add(1);
  f.vlan = nullptr;
  if (pkt->tp_status & TP_STATUS_VLAN_VALID) {
    uint16_t tpid = (pkt->tp_status & TP_STATUS_VLAN_TPID_VALID) ? pkt->hv1.tp_vlan_tpid : kEthVlan;
    store_be16(f.tag, tpid);
    store_be16(f.tag + 2, static_cast<uint16_t>(pkt->hv1.tp_vlan_tci));
    f.vlan = f.tag;
  }
  return true;
}

bool Worker::fits_egress(const RxFrame& f, uint32_t l3_offset) {
  if (f.gso || f.len < l3_offset || f.len - l3_offset <= egress_mtu_) return true;
  state_.counters.drop(DropReason::Oversize);
  return false;
}

void Worker::forward(RxFrame& f) {
  if (f.vlan) vnet_shift(*f.vnet, kVlanTagLen);
  transmit(f.vnet, f.data, f.len, f.vlan);
}

template <bool Traced>
void Worker::handle_frame(tpacket3_hdr* pkt, const Snapshot& snap, uint32_t now_ms, const Prepared& prepared) {
  RxFrame f;
  if (!open_frame(pkt, f)) {
    if (Traced) trace(pkt, snap, nullptr, Decision{Action::Drop, DropReason::TruncatedCapture, -1, -1});
    return;
  }
  if (prepared.service >= 0 && !fits_egress(f, prepared.p.l3_offset)) {
    if (Traced) trace(pkt, snap, &prepared, Decision{Action::Drop, DropReason::Oversize, prepared.service, -1});
    return;
  }
  Decision d = decide(f.data, f.len, snap, state_, now_ms, prepared);
  if (Traced) trace(pkt, snap, &prepared, d);
  if (d.action == Action::Forward) {
    if (workers_ > 1 && fanout_hash(prepared, snap) % workers_ != state_.index) state_.counters.wrong_worker.add(1);
    forward(f);
  } else if (d.action == Action::ArpReply) {
    send_reply(f.data, f.len, f.vlan);
  } else if (d.action == Action::NdpReply) {
    send_reply(state_.reply, state_.reply_len, f.vlan);
  }
}

// An ARP reply or a Neighbor Advertisement, out by the ingress interface with the tag the kernel
// stripped from the request put back.
void Worker::send_reply(const uint8_t* frame, uint32_t len, const uint8_t* vlan) {
  const uint8_t* out = frame;
  uint32_t out_len = len;
  if (vlan && len + 4 <= scratch_.size()) {
    std::memcpy(scratch_.data(), frame, 12);
    std::memcpy(scratch_.data() + 12, vlan, 4);
    std::memcpy(scratch_.data() + 16, frame + 12, len - 12);
    out = scratch_.data();
    out_len = len + 4;
  }
  if (send(arp_fd_, out, out_len, MSG_DONTWAIT) < 0) state_.counters.drop(DropReason::TxError);
}

void Worker::trace(const tpacket3_hdr* pkt, const Snapshot& snap, const Prepared* pr, const Decision& d) {
  TraceRecord r{};
  r.sec = pkt->tp_sec;
  r.nsec = pkt->tp_nsec;
  r.len = pkt->tp_len;
  r.action = static_cast<uint8_t>(d.action);
  r.reason = static_cast<uint8_t>(d.reason);
  r.service_port = 0xffff;
  if (pr) {
    const ParsedFrame& p = pr->p;
    r.src = p.src;
    r.dst = p.dst;
    if (p.kind == FrameKind::Ipv6) {
      r.flags |= kTraceV6;
      std::memcpy(r.src6, p.src6, 16);
      std::memcpy(r.dst6, p.dst6, 16);
    }
    r.proto = p.proto;
    if (p.has_ports) {
      r.sport = p.sport;
      r.dport = p.dport;
    }
    if (p.kind == FrameKind::Arp) r.flags |= kTraceArp;
    if (p.is_fragment) r.flags |= kTraceFragment;
    if (pr->icmp_error) r.flags |= kTraceIcmpError;
    int si = d.service >= 0 ? d.service : pr->service;
    if (si >= 0) {
      const Service& svc = snap.services[si];
      r.service_port = svc.spec.port;
      if (d.action == Action::Forward && d.server >= 0) {
        r.server = svc.spec.servers[d.server].addr;
        if (svc.spec.family == 6) std::memcpy(r.server6, svc.spec.servers[d.server].addr6, 16);
      }
    }
    if (d.new_flow) r.flags |= kTraceNewFlow;
  }
  uint8_t matched = 0;
  for (uint32_t i = 0; i < trace_.count; ++i) {
    const TraceFilter& f = trace_.filters[i];
    if (trace_matches(f, r) && ++trace_hits_[i] % f.sample == 0) matched |= static_cast<uint8_t>(1u << i);
  }
  if (!matched) return;
  r.matched = matched;
  trace_ring_.push(r);
}

void Worker::build_message(mmsghdr& msg, iovec* iov, uint8_t* tag, VnetHdr* vnet, uint8_t* frame, uint32_t len,
                      const uint8_t* vlan) {
  iov[0] = {vnet, kVnetHdrLen};
  int parts = 2;
  if (vlan) {
    std::memcpy(tag, vlan, 4);
    iov[1] = {frame, 12};
    iov[2] = {tag, 4};
    iov[3] = {frame + 12, len - 12};
    parts = 4;
  } else {
    iov[1] = {frame, len};
  }
  std::memset(&msg, 0, sizeof msg);
  msg.msg_hdr.msg_iov = iov;
  msg.msg_hdr.msg_iovlen = parts;
}

bool Worker::send_one(VnetHdr* vnet, uint8_t* frame, uint32_t len, const uint8_t* vlan) {
  mmsghdr m;
  iovec iov[kIovPerMessage];
  uint8_t tag[4];
  build_message(m, iov, tag, vnet, frame, len, vlan);
  state_.counters.tx_syscalls.add(1);
  return sendmsg(tx_fd_, &m.msg_hdr, MSG_DONTWAIT) >= 0;
}

void Worker::transmit(VnetHdr* vnet, uint8_t* frame, uint32_t len, const uint8_t* vlan) {
  WorkerCounters& c = state_.counters;
  uint32_t out_len = len + (vlan ? 4 : 0);
  if (mode_ == TxMode::Ring) {
    if (out_len > tx_ring_->max_frame_len()) {
      // A super-frame does not fit a slot sized for the MTU: send it by itself, after what is
      // queued, so a flow's frames stay in order.
      flush();
      if (!send_one(vnet, frame, len, vlan)) {
        c.drop(DropReason::TxError);
        return;
      }
    } else if (!tx_ring_->enqueue(*vnet, frame, len, vlan)) {
      // Full: hand the queued frames to the kernel and try once more before dropping.
      flush();
      if (!tx_ring_->enqueue(*vnet, frame, len, vlan)) {
        c.drop(DropReason::TxRingFull);
        return;
      }
    }
  } else if (mode_ == TxMode::Send) {
    if (!send_one(vnet, frame, len, vlan)) {
      c.drop(DropReason::TxError);
      return;
    }
  } else {
    // sendmmsg: the RX block stays ours until flush(), so iovecs point straight into it; a VLAN tag
    // is kept in a per-message slot for the same time.
    build_message(mmsg_[mmsg_count_], &iov_[mmsg_count_ * kIovPerMessage], tags_[mmsg_count_].data(), vnet, frame, len, vlan);
    mmsg_len_[mmsg_count_] = out_len;
    if (++mmsg_count_ == kMaxBatchMessages) flush();
    return;  // counted when sent
  }
  c.tx_packets.add(1);
  c.tx_bytes.add(out_len);
}

void Worker::flush() {
  WorkerCounters& c = state_.counters;
  if (mode_ == TxMode::Ring) {
    if (!tx_ring_ || tx_ring_->queued() == 0) return;
    c.tx_syscalls.add(1);
    if (!tx_ring_->flush()) c.drop(DropReason::TxError);
    return;
  }
  uint32_t sent = 0;
  while (sent < mmsg_count_) {
    c.tx_syscalls.add(1);
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
