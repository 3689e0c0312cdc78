#include "generator.h"

#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "../io/packet_socket.h"
#include "checksum.h"
#include "../packet/consts.h"
#include "rng.h"

namespace las::bench {

namespace {

constexpr uint32_t kIpOff = kEthHeaderLen;            // no VLAN tag
constexpr uint32_t kL4Off = kIpOff + kIpv4MinHeaderLen;
constexpr uint32_t kL4Off6 = kIpOff + kIpv6HeaderLen;
constexpr uint32_t kMaxPacketSize = 9216;             // jumbo frames; the device MTU still applies
// Where frame data starts in a TPACKET_V2 TX slot without PACKET_TX_HAS_OFF (kernel: tp_hdrlen - sockaddr_ll).
constexpr uint32_t kTxDataOff = TPACKET2_HDRLEN - sizeof(sockaddr_ll);
constexpr uint64_t kStallNs = 2'000'000'000;          // no slot released for this long: give up
constexpr int kSendTimeoutMs = 100;                   // bounds a blocking flush so `stop` is noticed

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no syscall
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint32_t sum_words(uint32_t v) { return (v >> 16) + (v & 0xffff); }

// One frame with everything but the source address and port filled in, plus the one's-complement
// sums of the headers without those fields: a frame then costs two stores and two folds.
struct FrameTemplate {
  std::vector<uint8_t> bytes;
  uint32_t ip_sum_base = 0;  // IPv4 header without the source address and the checksum
  uint32_t l4_sum_base = 0;  // pseudo-header + L4 header + payload without source address, port, checksum
  uint32_t l4_csum_off = 0;  // checksum field, from the start of the frame
  uint32_t src_off = 0;      // the 32 source bits that change per frame (IPv6: the address's last word)
  uint32_t l4_off = 0;
  bool udp = false;
  bool ipv4 = true;          // IPv4 has a header checksum, IPv6 none
};

uint32_t l4_offset(const GeneratorConfig& c) { return c.ipv6 ? kL4Off6 : kL4Off; }

// IPv6: the fixed header, then the same L4 header and payload as for IPv4. The source's last word
// is stamped per frame, the rest of it (src_prefix6) is in the checksum base.
FrameTemplate build_template6(const GeneratorConfig& c) {
  FrameTemplate t;
  t.bytes.assign(c.packet_size, 0);
  uint8_t* f = t.bytes.data();
  std::memcpy(f, c.dst_mac.bytes, 6);
  std::memcpy(f + 6, c.src_mac.bytes, 6);
  store_be16(f + 12, kEthIpv6);
  t.udp = c.kind == GenKind::Udp;
  t.ipv4 = false;
  t.l4_off = kL4Off6;
  t.src_off = kIpOff + 8 + 12;
  const uint32_t l4_hdr = t.udp ? kUdpHeaderLen : kTcpMinHeaderLen;
  const uint32_t l4_len = c.kind == GenKind::TcpSyn ? l4_hdr : c.packet_size - kL4Off6;
  uint8_t* ip = f + kIpOff;
  ip[0] = 0x60;
  store_be16(ip + 4, static_cast<uint16_t>(l4_len));
  ip[6] = t.udp ? kProtoUdp : kProtoTcp;
  ip[7] = 64;
  std::memcpy(ip + 8, c.src_prefix6, 12);
  std::memcpy(ip + 24, c.dst_ip6, 16);
  uint8_t* l4 = f + kL4Off6;
  store_be16(l4 + 2, c.dst_port);
  if (t.udp) {
    store_be16(l4 + 4, static_cast<uint16_t>(l4_len));
    t.l4_csum_off = kL4Off6 + 6;
  } else {
    store_be32(l4 + 4, 0x4c415300);
    store_be32(l4 + 8, c.kind == GenKind::TcpAck ? 1 : 0);
    l4[12] = 5 << 4;
    l4[13] = c.kind == GenKind::TcpSyn ? kTcpSyn : 0x10;
    store_be16(l4 + 14, 64240);
    t.l4_csum_off = kL4Off6 + 16;
  }
  // Pseudo-header (RFC 8200 8.1): both addresses (the source's last word added per frame), length, next header.
  uint32_t pseudo = sum16(ip + 8, 12, 0);
  pseudo = sum16(ip + 24, 16, pseudo) + l4_len + ip[6];
  t.l4_sum_base = sum16(l4, l4_len, pseudo);
  return t;
}

FrameTemplate build_template(const GeneratorConfig& c) {
  if (c.ipv6) return build_template6(c);
  FrameTemplate t;
  t.bytes.assign(c.packet_size, 0);  // zero payload and zero Ethernet padding
  uint8_t* f = t.bytes.data();
  std::memcpy(f, c.dst_mac.bytes, 6);
  std::memcpy(f + 6, c.src_mac.bytes, 6);
  store_be16(f + 12, kEthIpv4);

  t.udp = c.kind == GenKind::Udp;
  uint32_t l4_hdr = t.udp ? kUdpHeaderLen : kTcpMinHeaderLen;
  // A SYN carries no data: the frame is padded at the Ethernet level instead. UDP and ACK frames
  // fill the frame with payload so pkt_size means the same as in pktgen.
  uint32_t ip_total = c.kind == GenKind::TcpSyn ? kIpv4MinHeaderLen + l4_hdr : c.packet_size - kIpOff;

  uint8_t* ip = f + kIpOff;
  ip[0] = 0x45;
  store_be16(ip + 2, static_cast<uint16_t>(ip_total));
  store_be16(ip + 6, 0x4000);  // DF, no fragments
  ip[8] = 64;
  ip[9] = t.udp ? kProtoUdp : kProtoTcp;
  store_be32(ip + 16, c.dst_ip);
  t.ip_sum_base = sum16(ip, kIpv4MinHeaderLen, 0);  // source and checksum are still zero
  t.src_off = kIpOff + 12;
  t.l4_off = kL4Off;

  uint8_t* l4 = f + kL4Off;
  uint32_t l4_len = ip_total - kIpv4MinHeaderLen;
  store_be16(l4 + 2, c.dst_port);
  if (t.udp) {
    store_be16(l4 + 4, static_cast<uint16_t>(l4_len));
    t.l4_csum_off = kL4Off + 6;
  } else {
    store_be32(l4 + 4, 0x4c415300);                        // sequence number: arbitrary, constant
    store_be32(l4 + 8, c.kind == GenKind::TcpAck ? 1 : 0);  // acknowledgment number
    l4[12] = 5 << 4;                                       // data offset: 20 bytes, no options
    l4[13] = c.kind == GenKind::TcpSyn ? kTcpSyn : 0x10;   // SYN or ACK
    store_be16(l4 + 14, 64240);                            // window
    t.l4_csum_off = kL4Off + 16;
  }
  uint32_t pseudo = sum_words(c.dst_ip) + ip[9] + l4_len;  // source address added per frame
  t.l4_sum_base = sum16(l4, l4_len, pseudo);               // source port and checksum are still zero
  return t;
}

// Rewrites the per-frame fields of a frame that already holds the template.
inline void stamp(uint8_t* f, const FrameTemplate& t, uint32_t src, uint16_t sport) {
  store_be32(f + t.src_off, src);
  store_be16(f + t.l4_off, sport);
  uint32_t s = sum_words(src);
  if (t.ipv4) store_be16(f + kIpOff + 10, fold(t.ip_sum_base + s));
  uint16_t l4 = fold(t.l4_sum_base + s + sport);
  if (t.udp && l4 == 0) l4 = 0xffff;  // 0 would mean "no checksum" for UDP
  store_be16(f + t.l4_csum_off, l4);
}

// Chooses the source address and port of each frame. All memory is allocated in the constructor.
class FlowSource {
 public:
  FlowSource(const GeneratorConfig& c, uint64_t seed)
      : rng_(seed),
        ip_min_(c.src_ip_min),
        ip_span_(static_cast<uint64_t>(c.src_ip_max) - c.src_ip_min + 1),
        port_min_(c.src_port_min),
        port_span_(static_cast<uint64_t>(c.src_port_max) - c.src_port_min + 1) {
    if (c.flows == 0) return;
    // Distinct (address, port) pairs: walk the pair space with a stride coprime to its size, which
    // visits each pair at most once, then shuffle so the cycle order is random too.
    uint64_t space = ip_span_ * port_span_;
    uint64_t stride = 1;
    if (space > 1) {
      do stride = 1 + rng_.next() % (space - 1);
      while (std::gcd(stride, space) != 1);
    }
    uint64_t p = rng_.next() % space;
    flows_.resize(c.flows);
    for (uint32_t i = 0; i < c.flows; ++i) {
      flows_[i] = {ip_min_ + static_cast<uint32_t>(p / port_span_), static_cast<uint16_t>(port_min_ + p % port_span_)};
      p = (p + stride) % space;
    }
    for (uint32_t i = c.flows - 1; i > 0; --i) std::swap(flows_[i], flows_[rng_.below(i + 1)]);
  }

  inline void next(uint32_t& src, uint16_t& sport) {
    if (flows_.empty()) {
      src = ip_min_ + rng_.below(ip_span_);
      sport = static_cast<uint16_t>(port_min_ + rng_.below(port_span_));
      return;
    }
    const Flow& f = flows_[cursor_];
    if (++cursor_ == flows_.size()) cursor_ = 0;
    src = f.src;
    sport = f.sport;
  }

 private:
  struct Flow {
    uint32_t src;
    uint16_t sport;
  };
  Rng rng_;
  uint32_t ip_min_;
  uint64_t ip_span_;
  uint16_t port_min_;
  uint64_t port_span_;
  std::vector<Flow> flows_;
  size_t cursor_ = 0;
};

uint64_t seed_of(const GeneratorConfig& c) { return c.seed ? c.seed : now_ns() ^ (static_cast<uint64_t>(getpid()) << 32); }

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

// The TX ring as the generator uses it: every slot holds the frame template from the start, so a
// frame costs only the field rewrite and a status store.
class GenRing {
 public:
  GenRing(int ifindex, uint32_t packet_size, uint32_t frames) : frames_(frames) {
    frame_size_ = TPACKET_ALIGNMENT;
    while (frame_size_ < kTxDataOff + packet_size) frame_size_ <<= 1;
    uint32_t block = std::max<uint32_t>(frame_size_, 1u << 16);
    fd_ = open_tx_socket(ifindex, true);  // PACKET_QDISC_BYPASS, bound with protocol 0: never receives
    try {
      int v = TPACKET_V2;
      if (setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &v, sizeof v) < 0) fail("setsockopt PACKET_VERSION");
      timeval tv{0, kSendTimeoutMs * 1000};
      if (setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) fail("setsockopt SO_SNDTIMEO");
      tpacket_req req{};
      req.tp_block_size = block;
      req.tp_frame_size = frame_size_;
      req.tp_block_nr = (frames + block / frame_size_ - 1) / (block / frame_size_);
      req.tp_frame_nr = req.tp_block_nr * (block / frame_size_);
      frames_ = req.tp_frame_nr;
      if (setsockopt(fd_, SOL_PACKET, PACKET_TX_RING, &req, sizeof req) < 0) fail("PACKET_TX_RING");
      map_len_ = static_cast<size_t>(block) * req.tp_block_nr;
      void* m = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
      if (m == MAP_FAILED) fail("mmap TX ring");
      map_ = static_cast<uint8_t*>(m);
    } catch (...) {
      close(fd_);
      throw;
    }
  }
  ~GenRing() {
    if (map_) munmap(map_, map_len_);
    close(fd_);
  }
  GenRing(const GenRing&) = delete;
  GenRing& operator=(const GenRing&) = delete;

  tpacket2_hdr* slot(uint32_t i) const {
    return reinterpret_cast<tpacket2_hdr*>(map_ + static_cast<size_t>(i) * frame_size_);
  }
  static uint8_t* data(tpacket2_hdr* h) { return reinterpret_cast<uint8_t*>(h) + kTxDataOff; }
  static uint32_t status(const tpacket2_hdr* h) { return __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE); }
  uint32_t frames() const { return frames_; }
  bool has_refused() const {
    for (uint32_t i = 0; i < frames_; ++i)
      if (status(slot(i)) == TP_STATUS_WRONG_FORMAT) return true;
    return false;
  }
  int fd() const { return fd_; }

  // Hands every SEND_REQUEST slot to the kernel. wait: block until they are released (bounded by
  // SO_SNDTIMEO); otherwise return at once.
  void flush(bool wait) { (void)sendto(fd_, nullptr, 0, wait ? 0 : MSG_DONTWAIT, nullptr, 0); }

 private:
  int fd_ = -1;
  uint8_t* map_ = nullptr;
  size_t map_len_ = 0;
  uint32_t frame_size_ = 0;
  uint32_t frames_;
};

void pin_to(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  if (rc != 0) {
    errno = rc;
    fail("pin the generator thread to CPU " + std::to_string(cpu));
  }
}

void sleep_until(uint64_t t_ns) {
  timespec ts{static_cast<time_t>(t_ns / 1'000'000'000ull), static_cast<long>(t_ns % 1'000'000'000ull)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

}  // namespace

void validate(const GeneratorConfig& c) {
  auto bad = [](const std::string& m) { throw std::invalid_argument(m); };
  if (c.packet_size < 60 || c.packet_size > kMaxPacketSize)
    bad("packetSize must be from 60 to " + std::to_string(kMaxPacketSize) + " (Ethernet frame bytes without FCS)");
  if (c.kind == GenKind::TcpAck && c.packet_size < l4_offset(c) + kTcpMinHeaderLen) bad("packetSize too small for TCP");
  if (c.ipv6 && c.kind == GenKind::Udp && c.packet_size < kL4Off6 + kUdpHeaderLen) bad("packetSize too small for IPv6 UDP (62 bytes at least)");
  if (c.src_ip_min > c.src_ip_max) bad("srcIpMin must not be above srcIpMax");
  if (c.src_port_min > c.src_port_max) bad("srcPortMin must not be above srcPortMax");
  if (c.burst == 0 || c.burst > 1024) bad("burst must be from 1 to 1024");
  if (c.ring_frames < 2 * c.burst || c.ring_frames > (1u << 20)) bad("ringFrames must be from 2 * burst to 1048576");
  if (c.count == 0 && c.duration_ms == 0) bad("count or durationMs must be above 0 (the run must end)");
  uint64_t space = (static_cast<uint64_t>(c.src_ip_max) - c.src_ip_min + 1) *
                   (static_cast<uint64_t>(c.src_port_max) - c.src_port_min + 1);
  if (c.flows > space) bad("flows (" + std::to_string(c.flows) + ") exceeds the distinct source address and port pairs (" +
                           std::to_string(space) + ")");
  if (c.flows > (1u << 24)) bad("flows must be at most 16777216");
}

std::vector<std::vector<uint8_t>> preview_frames(const GeneratorConfig& cfg, uint32_t n) {
  GeneratorConfig c = cfg;
  if (c.count == 0 && c.duration_ms == 0) c.count = n;  // a preview has no run to end
  validate(c);
  if (!c.src_mac_set) c.src_mac = interface_mac(c.ifname);
  FrameTemplate t = build_template(c);
  FlowSource src(c, seed_of(c));
  std::vector<std::vector<uint8_t>> out(n, t.bytes);
  for (auto& f : out) {
    uint32_t a;
    uint16_t p;
    src.next(a, p);
    stamp(f.data(), t, a, p);
  }
  return out;
}

GeneratorResult run_generator(GeneratorConfig c, const std::atomic<bool>& stop) {
  validate(c);
  pin_to(c.cpu);
  int ifindex = interface_index(c.ifname);
  if (!c.src_mac_set) c.src_mac = interface_mac(c.ifname);
  uint32_t mtu = interface_mtu(c.ifname);
  if (c.packet_size > mtu + kEthHeaderLen)
    throw std::invalid_argument("packetSize " + std::to_string(c.packet_size) + " exceeds the MTU of \"" + c.ifname +
                                "\" (" + std::to_string(mtu) + ") + 14 bytes of Ethernet header");

  // Everything the loop touches is built here, before the clock starts.
  FrameTemplate t = build_template(c);
  FlowSource flows(c, seed_of(c));
  GenRing ring(ifindex, c.packet_size, c.ring_frames);
  const uint32_t nslots = ring.frames();
  for (uint32_t i = 0; i < nslots; ++i) {
    tpacket2_hdr* h = ring.slot(i);
    std::memcpy(GenRing::data(h), t.bytes.data(), t.bytes.size());
    h->tp_len = c.packet_size;
    h->tp_status = TP_STATUS_AVAILABLE;
  }

  GeneratorResult r;
  uint64_t queued = 0;  // frames marked SEND_REQUEST, ever
  uint64_t bad = 0;     // of those, refused by the kernel or never sent
  uint32_t next = 0;
  const uint64_t start = now_ns();
  const uint64_t deadline = c.duration_ms ? start + c.duration_ms * 1'000'000ull : UINT64_MAX;
  bool done = false;

  while (!done) {
    uint64_t now = now_ns();
    if (now >= deadline || stop.load(std::memory_order_relaxed)) break;
    uint32_t n = c.burst;
    if (c.count && c.count - queued < n) n = static_cast<uint32_t>(c.count - queued);
    if (c.rate_pps) {
      // The burst may leave when the previous frames have had their share of time: deadlines are
      // absolute from `start`, so sleeping late does not drift the average rate.
      uint64_t due = start + static_cast<uint64_t>(static_cast<unsigned __int128>(queued) * 1'000'000'000ull / c.rate_pps);
      if (due > now) {
        if (due - now > 200'000) sleep_until(std::min(due, deadline) - 100'000);  // the rest spun: timer slack
        while ((now = now_ns()) < due && now < deadline) {
        }
        if (now >= deadline) break;
      }
    }
    for (uint32_t i = 0; i < n; ++i) {
      tpacket2_hdr* h = ring.slot(next);
      uint32_t st = GenRing::status(h);
      if (st & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING)) {
        // The kernel still owns the slot: hand it everything queued and wait for the releases.
        ++r.ring_full;
        uint64_t waited_from = now_ns();
        for (;;) {
          ring.flush(true);
          st = GenRing::status(h);
          if (!(st & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING))) break;
          uint64_t t_now = now_ns();
          // Without PACKET_LOSS the kernel stops at a refused frame, so the ring would never drain.
          if (t_now >= deadline || stop.load(std::memory_order_relaxed) || t_now - waited_from > kStallNs ||
              (t_now - waited_from > 10'000'000 && ring.has_refused())) {
            done = true;
            break;
          }
          pollfd p{ring.fd(), POLLOUT, 0};
          poll(&p, 1, 1);
        }
        if (done) break;
      }
      if (st == TP_STATUS_WRONG_FORMAT) ++bad;  // the frame that was in this slot was refused
      uint8_t* f = GenRing::data(h);
      uint32_t src;
      uint16_t sport;
      flows.next(src, sport);
      stamp(f, t, src, sport);
      __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
      if (++next == nslots) next = 0;
      ++queued;
    }
    ring.flush(false);
    if (c.count && queued >= c.count) done = true;
  }

  // Drain: wait (bounded) until the kernel has released every slot, then settle the accounts.
  uint64_t drain_from = now_ns();
  for (;;) {
    ring.flush(true);
    uint32_t pending = 0;
    for (uint32_t i = 0; i < nslots; ++i)
      if (GenRing::status(ring.slot(i)) & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING)) ++pending;
    if (pending == 0 || now_ns() - drain_from > kStallNs) break;
    poll(nullptr, 0, 1);
  }
  uint64_t end = now_ns();
  for (uint32_t i = 0; i < nslots; ++i) {
    uint32_t st = GenRing::status(ring.slot(i));
    if (st == TP_STATUS_WRONG_FORMAT || (st & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING))) ++bad;
  }
  r.errors = bad;
  r.sent = queued - bad;
  r.elapsed_ns = end - start;
  return r;
}

}  // namespace las::bench
