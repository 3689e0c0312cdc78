#include "sink.h"

#include <poll.h>
#include <pthread.h>

#include <cstring>
#include <stdexcept>

#include "../lb/hash.h"

namespace las::bench {

namespace {
constexpr uint64_t kUsed = 1ull << 48;
constexpr int kPollTimeoutMs = 50;  // bounds how late stop() is noticed
}  // namespace

Sink::Sink(std::string ifname, SinkOptions options)
    : ifname_(std::move(ifname)), options_(options), macs_(new MacSlot[kMacSlots]) {
  if (options_.keep_frames > kMaxKeptFrames)
    throw std::invalid_argument("keepFrames must be at most " + std::to_string(kMaxKeptFrames));
}

Sink::~Sink() { stop(); }

void Sink::start() {
  if (running()) throw std::runtime_error("the sink is already running");
  int ifindex = interface_index(ifname_);
  RingConfig cfg{options_.block_size, options_.block_count, 2048, options_.retire_timeout_ms};
  ring_.reset(new RxRing(ifindex, cfg, {}, RxOptions{}));  // V3, PACKET_IGNORE_OUTGOING: only what arrives
  for (uint32_t i = 0; i < kMacSlots; ++i) {
    macs_[i].key.store(0, std::memory_order_relaxed);
    macs_[i].count.set(0);
  }
  total_.set(0);
  other_macs_.set(0);
  ring_drops_ = 0;
  last_key_ = 0;
  last_slot_ = nullptr;
  if (options_.keep_frames) {
    kept_.reset(new uint8_t[static_cast<size_t>(options_.keep_frames) * kKeptFrameBytes]);
    kept_len_.reset(new uint32_t[options_.keep_frames]);
  }
  kept_count_.store(0, std::memory_order_relaxed);
  running_.store(true, std::memory_order_release);
  thread_ = std::thread([this] { run(); });
}

void Sink::stop() {
  if (!running()) return;
  running_.store(false, std::memory_order_release);
  thread_.join();
  collect_ring_stats();
  ring_.reset();
}

void Sink::collect_ring_stats() {
  if (!ring_) return;
  uint64_t packets, drops;
  ring_->read_stats(packets, drops);  // the kernel resets its counters on every read
  ring_drops_ += drops;
}

SinkCounts Sink::counts() {
  collect_ring_stats();
  SinkCounts c;
  c.ring_drops = ring_drops_;
  for (uint32_t i = 0; i < kMacSlots; ++i) {
    uint64_t key = macs_[i].key.load(std::memory_order_acquire);
    if (!(key & kUsed)) continue;
    Mac m;
    for (int b = 0; b < 6; ++b) m.bytes[b] = static_cast<uint8_t>(key >> (40 - 8 * b));
    c.by_dst_mac.emplace_back(m, macs_[i].count.get());
  }
  // Read last, so a live total is never below the per-MAC counts it covers.
  c.other_macs = other_macs_.get();
  c.total = total_.get();
  return c;
}

std::vector<std::vector<uint8_t>> Sink::frames() const {
  uint32_t n = kept_count_.load(std::memory_order_acquire);
  std::vector<std::vector<uint8_t>> out;
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t* p = kept_.get() + static_cast<size_t>(i) * kKeptFrameBytes;
    out.emplace_back(p, p + kept_len_[i]);
  }
  return out;
}

inline void Sink::count_frame(const uint8_t* frame, uint32_t snaplen, uint32_t wire_len) {
  if (snaplen < 6) {
    other_macs_.add(1);
    total_.add(1);
    return;
  }
  uint64_t key = kUsed;
  for (int b = 0; b < 6; ++b) key |= static_cast<uint64_t>(frame[b]) << (40 - 8 * b);
  MacSlot* slot = nullptr;
  if (key == last_key_) {
    slot = last_slot_;
  } else {
    // Open addressing over a fixed table; claiming a slot is a single release store (one writer).
    for (uint32_t n = 0, i = static_cast<uint32_t>(mix64(key)) & (kMacSlots - 1); n < kMacSlots;
         ++n, i = (i + 1) & (kMacSlots - 1)) {
      uint64_t k = macs_[i].key.load(std::memory_order_relaxed);
      if (k == key) {
        slot = &macs_[i];
        break;
      }
      if (k == 0) {
        macs_[i].key.store(key, std::memory_order_release);
        slot = &macs_[i];
        break;
      }
    }
    if (slot) {
      last_key_ = key;
      last_slot_ = slot;
    }
  }
  if (slot) slot->count.add(1);
  else other_macs_.add(1);
  total_.add(1);  // after the per-MAC count: see counts()

  uint32_t kept = kept_count_.load(std::memory_order_relaxed);
  if (kept < options_.keep_frames && snaplen == wire_len) {
    uint32_t len = snaplen < kKeptFrameBytes ? snaplen : kKeptFrameBytes;
    std::memcpy(kept_.get() + static_cast<size_t>(kept) * kKeptFrameBytes, frame, len);
    kept_len_[kept] = len;
    kept_count_.store(kept + 1, std::memory_order_release);  // publishes the copy
  }
}

void Sink::run() {
  pthread_setname_np(pthread_self(), "las-sink");
  pollfd pfd{ring_->fd(), POLLIN | POLLERR, 0};
  uint32_t b = 0;
  while (running_.load(std::memory_order_acquire)) {
    tpacket_block_desc* block = ring_->block(b);
    if (!(__atomic_load_n(&block->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
      poll(&pfd, 1, kPollTimeoutMs);
      continue;
    }
    uint32_t n = block->hdr.bh1.num_pkts;
    auto* pkt = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(block) + block->hdr.bh1.offset_to_first_pkt);
    for (uint32_t i = 0; i < n; ++i) {
      count_frame(reinterpret_cast<uint8_t*>(pkt) + pkt->tp_mac, pkt->tp_snaplen, pkt->tp_len);
      pkt = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<uint8_t*>(pkt) + pkt->tp_next_offset);
    }
    __atomic_store_n(&block->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    b = (b + 1) % ring_->block_count();
  }
}

}  // namespace las::bench
