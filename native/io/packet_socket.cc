#include "packet_socket.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace las {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

void bind_to(int fd, int ifindex, uint16_t protocol) {
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(protocol);
  sll.sll_ifindex = ifindex;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) fail("bind AF_PACKET socket");
}

void set_int(int fd, int level, int opt, int value, const char* name) {
  if (setsockopt(fd, level, opt, &value, sizeof value) < 0) fail(std::string("setsockopt ") + name);
}

}  // namespace

int interface_index(const std::string& name) {
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) throw std::runtime_error("interface \"" + name + "\" not found in this network namespace");
  return static_cast<int>(idx);
}

// One SIOCGIF* request on a throwaway socket; `what` names it in the error.
static ifreq interface_request(const std::string& name, unsigned long request, const char* what) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  int rc = ioctl(fd, request, &ifr);
  int saved = errno;
  close(fd);
  errno = saved;
  if (rc < 0) fail(std::string("read the ") + what + " of interface \"" + name + "\"");
  return ifr;
}

Mac interface_mac(const std::string& name) {
  ifreq ifr = interface_request(name, SIOCGIFHWADDR, "MAC");
  Mac m;
  std::memcpy(m.bytes, ifr.ifr_hwaddr.sa_data, 6);
  return m;
}

uint32_t interface_mtu(const std::string& name) {
  return static_cast<uint32_t>(interface_request(name, SIOCGIFMTU, "MTU").ifr_mtu);
}

namespace {
constexpr uint32_t kRxNominalFrame = 2048;
constexpr int kFanoutIgnoreOutgoing = 0x4000;  // PACKET_FANOUT_FLAG_IGNORE_OUTGOING, newer than these headers
constexpr uint32_t kRxFrameOverhead = 256;  // block descriptor, tpacket3_hdr, alignment, virtio-net header
constexpr uint32_t kTxDataOffset = TPACKET2_HDRLEN - sizeof(sockaddr_ll);  // where the kernel reads a TX slot
constexpr uint32_t kL2Max = 14 + 8;           // Ethernet header and up to two VLAN tags
constexpr uint32_t kGsoMaxIp = 65535;         // an IPv4 super-frame's total length
}  // namespace

static uint32_t rx_block_capacity(uint32_t block_size) { return block_size > kRxFrameOverhead ? block_size - kRxFrameOverhead : 0; }

uint32_t min_rx_block_size(uint32_t mtu) {
  uint32_t largest = std::max(mtu, kGsoMaxIp) + kL2Max;
  uint32_t size = 4096;
  while (rx_block_capacity(size) < largest) size <<= 1;
  return size;
}

uint32_t tx_slot_size_for_mtu(uint32_t mtu) {
  uint32_t need = kTxDataOffset + kVnetHdrLen + kL2Max + mtu;
  return (need + TPACKET_ALIGNMENT - 1) & ~(TPACKET_ALIGNMENT - 1);
}

void check_ring_sizes(const RingConfig& ring, const std::string& ingress_if, uint32_t ingress_mtu,
                      const std::string& egress_if, uint32_t egress_mtu) {
  uint32_t block = min_rx_block_size(ingress_mtu);
  if (ring.block_size < block) {
    throw std::runtime_error("ring.blockSize " + std::to_string(ring.block_size) + " cannot hold the largest frame \"" +
                             ingress_if + "\" can deliver (MTU " + std::to_string(ingress_mtu) +
                             ", or a 64 KiB GRO/TSO super-frame): use at least " + std::to_string(block));
  }
  uint32_t slot = tx_slot_size_for_mtu(egress_mtu);
  if (ring.frame_size != 0 && ring.frame_size < slot) {
    throw std::runtime_error("ring.frameSize " + std::to_string(ring.frame_size) + " cannot hold a full frame for \"" +
                             egress_if + "\" (MTU " + std::to_string(egress_mtu) + "): use at least " +
                             std::to_string(slot) + ", or leave it out to size the TX ring from the MTU");
  }
}

RxRing::RxRing(int ifindex, const RingConfig& cfg, const std::vector<sock_filter>& filter, RxOptions opts)
    : cfg_(cfg) {
  // Protocol 0 until bound: nothing is queued before the filter and the ring are in place.
  fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail("socket(AF_PACKET) (LAS needs root or CAP_NET_RAW)");
  try {
    // A fanout member takes nothing until the group's program is in place (Dataplane::start then
    // attaches the VIP filter): before that the kernel hands every frame to the first member, which
    // may not own its flow.
    if (opts.fanout_id >= 0) attach_filter({BPF_STMT(BPF_RET | BPF_K, 0)});
    else if (!filter.empty()) attach_filter(filter);
    set_int(fd_, SOL_PACKET, PACKET_VERSION, TPACKET_V3, "PACKET_VERSION");
    // The dispatcher's own transmissions must not come back as input (one-armed set-ups).
    set_int(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING");
    // Before the ring exists (the kernel refuses it after): each frame then arrives with its offload
    // state, and a TCP super-frame is forwarded as one (the kernel segments it at egress).
    if (opts.vnet_hdr) set_int(fd_, SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
    tpacket_req3 req{};
    req.tp_block_size = cfg.block_size;
    req.tp_block_nr = cfg.block_count;
    // V3 packs variable-sized frames into blocks; the frame size is only a nominal unit here.
    req.tp_frame_size = kRxNominalFrame;
    req.tp_frame_nr = (cfg.block_size / kRxNominalFrame) * cfg.block_count;
    req.tp_retire_blk_tov = cfg.retire_timeout_ms;
    if (setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) fail("PACKET_RX_RING");
    map_len_ = static_cast<size_t>(cfg.block_size) * cfg.block_count;
    void* m = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED | MAP_POPULATE, fd_, 0);
    if (m == MAP_FAILED) m = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
    if (m == MAP_FAILED) fail("mmap RX ring");
    map_ = static_cast<uint8_t*>(m);
    bind_to(fd_, ifindex, ETH_P_ALL);
    if (opts.fanout_id >= 0) {
      // The group's program picks the worker from the flow key (dataplane/fanout.h); until it is set
      // every frame goes to the first member. The group has its own hook, so outgoing frames are
      // ignored there too, not only by PACKET_IGNORE_OUTGOING above.
      auto join = [&](int flags) {
        int arg = (opts.fanout_id & 0xffff) | ((PACKET_FANOUT_CBPF | flags) << 16);
        return setsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg);
      };
      int rc = join(kFanoutIgnoreOutgoing);
      if (rc < 0 && errno == EINVAL) rc = join(0);  // a kernel older than the flag
      if (rc < 0) fail("PACKET_FANOUT");
    }
    uint64_t p, d;
    read_stats(p, d);  // start counting from here
  } catch (...) {
    if (map_) munmap(map_, map_len_);
    close(fd_);
    throw;
  }
}

void RxRing::attach_filter(const std::vector<sock_filter>& filter) {
  if (filter.empty()) {
    // No filter: take everything (the previous one, if any, goes).
    if (setsockopt(fd_, SOL_SOCKET, SO_DETACH_FILTER, nullptr, 0) < 0 && errno != ENOENT) fail("detach the socket filter");
    return;
  }
  sock_fprog prog{static_cast<unsigned short>(filter.size()), const_cast<sock_filter*>(filter.data())};
  if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) fail("attach the VIP socket filter");
}

void RxRing::set_fanout_program(const std::vector<sock_filter>& program) {
  sock_fprog prog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
  if (setsockopt(fd_, SOL_PACKET, PACKET_FANOUT_DATA, &prog, sizeof prog) < 0) fail("set the fanout program (PACKET_FANOUT_DATA)");
}

RxRing::~RxRing() {
  if (map_) munmap(map_, map_len_);
  if (fd_ >= 0) close(fd_);
}

void RxRing::read_stats(uint64_t& packets, uint64_t& drops) {
  tpacket_stats_v3 st{};
  socklen_t len = sizeof st;
  packets = drops = 0;
  if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
    packets = st.tp_packets;
    drops = st.tp_drops;
  }
}

int RxRing::take_error() {
  int error = 0;
  socklen_t len = sizeof error;
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len) < 0) return errno;
  return error;
}

int open_tx_socket(int ifindex, bool qdisc_bypass, bool vnet_hdr) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket(AF_PACKET) (LAS needs root or CAP_NET_RAW)");
  try {
    // Bypassing the qdisc also keeps forwarded frames away from the packet taps.
    if (qdisc_bypass) set_int(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS");
    if (vnet_hdr) set_int(fd, SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
    bind_to(fd, ifindex, 0);  // protocol 0: this socket never receives
  } catch (...) {
    close(fd);
    throw;
  }
  return fd;
}

TxRing::TxRing(int ifindex, uint32_t frame_size, uint32_t frame_count) : frame_size_(frame_size) {
  fd_ = open_tx_socket(ifindex, true, true);
  try {
    set_int(fd_, SOL_PACKET, PACKET_VERSION, TPACKET_V2, "PACKET_VERSION (TX)");
    tpacket_req req{};
    // Whole pages per block, at least 64 KiB, holding one slot or more.
    uint32_t page = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
    uint32_t block = std::max<uint32_t>(1u << 16, (frame_size + page - 1) / page * page);
    per_block_ = block / frame_size;
    block_size_ = block;
    req.tp_block_size = block;
    req.tp_frame_size = frame_size;
    req.tp_block_nr = (frame_count + per_block_ - 1) / per_block_;
    req.tp_frame_nr = req.tp_block_nr * per_block_;
    frame_count_ = req.tp_frame_nr;
    // A frame the kernel refuses is skipped, not left at the head of the ring, where it would stop
    // every frame queued behind it for good.
    set_int(fd_, SOL_PACKET, PACKET_LOSS, 1, "PACKET_LOSS");
    if (setsockopt(fd_, SOL_PACKET, PACKET_TX_RING, &req, sizeof req) < 0) fail("PACKET_TX_RING");
    map_len_ = static_cast<size_t>(req.tp_block_size) * req.tp_block_nr;
    void* m = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
    if (m == MAP_FAILED) fail("mmap TX ring");
    map_ = static_cast<uint8_t*>(m);
  } catch (...) {
    close(fd_);
    throw;
  }
}

TxRing::~TxRing() {
  if (map_) munmap(map_, map_len_);
  if (fd_ >= 0) close(fd_);
}

uint32_t TxRing::max_frame_len() const { return frame_size_ - kTxDataOffset - kVnetHdrLen; }

bool TxRing::enqueue(const VnetHdr& vnet, const uint8_t* frame, uint32_t len, const uint8_t* vlan_tag) {
  // Slots never straddle blocks: a block ends with a gap when the slot size does not divide it.
  auto* hdr = reinterpret_cast<tpacket2_hdr*>(map_ + static_cast<size_t>(next_ / per_block_) * block_size_ +
                                              static_cast<size_t>(next_ % per_block_) * frame_size_);
  // The kernel flips a slot back to AVAILABLE once sent (or WRONG_FORMAT if it refused it).
  if (__atomic_load_n(&hdr->tp_status, __ATOMIC_ACQUIRE) & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING)) {
    return false;
  }
  uint32_t out_len = len + (vlan_tag ? 4 : 0);
  if (out_len > max_frame_len()) return false;
  uint8_t* out = reinterpret_cast<uint8_t*>(hdr) + kTxDataOffset;
  std::memcpy(out, &vnet, kVnetHdrLen);
  out += kVnetHdrLen;
  if (vlan_tag) {
    std::memcpy(out, frame, 12);
    std::memcpy(out + 12, vlan_tag, 4);
    std::memcpy(out + 16, frame + 12, len - 12);
  } else {
    std::memcpy(out, frame, len);
  }
  hdr->tp_len = kVnetHdrLen + out_len;
  __atomic_store_n(&hdr->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
  next_ = (next_ + 1) % frame_count_;
  ++queued_;
  return true;
}

bool TxRing::flush() {
  if (queued_ == 0) return true;
  queued_ = 0;
  ssize_t rc = sendto(fd_, nullptr, 0, MSG_DONTWAIT, nullptr, 0);
  return rc >= 0 || errno == EAGAIN || errno == ENOBUFS;
}

}  // namespace las
