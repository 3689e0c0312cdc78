#include "packet_socket.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

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

RxRing::RxRing(int ifindex, const RingConfig& cfg, const std::vector<sock_filter>& filter, int fanout_id)
    : cfg_(cfg) {
  // Protocol 0 until bound: nothing is queued before the filter and the ring are in place.
  fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail("socket(AF_PACKET) (LAS needs root or CAP_NET_RAW)");
  try {
    if (!filter.empty()) attach_filter(filter);
    set_int(fd_, SOL_PACKET, PACKET_VERSION, TPACKET_V3, "PACKET_VERSION");
    // The dispatcher's own transmissions must not come back as input (one-armed set-ups).
    set_int(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING");
    tpacket_req3 req{};
    req.tp_block_size = cfg.block_size;
    req.tp_block_nr = cfg.block_count;
    req.tp_frame_size = cfg.frame_size;
    req.tp_frame_nr = (cfg.block_size / cfg.frame_size) * cfg.block_count;
    req.tp_retire_blk_tov = cfg.retire_timeout_ms;
    if (setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) fail("PACKET_RX_RING");
    map_len_ = static_cast<size_t>(cfg.block_size) * cfg.block_count;
    void* m = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED | MAP_POPULATE, fd_, 0);
    if (m == MAP_FAILED) m = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
    if (m == MAP_FAILED) fail("mmap RX ring");
    map_ = static_cast<uint8_t*>(m);
    bind_to(fd_, ifindex, ETH_P_ALL);
    if (fanout_id >= 0) {
      int arg = (fanout_id & 0xffff) | (PACKET_FANOUT_HASH << 16);
      if (setsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) < 0) fail("PACKET_FANOUT");
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
  sock_fprog prog{static_cast<unsigned short>(filter.size()), const_cast<sock_filter*>(filter.data())};
  if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) fail("attach the VIP socket filter");
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

int open_tx_socket(int ifindex, bool qdisc_bypass) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket(AF_PACKET) (LAS needs root or CAP_NET_RAW)");
  try {
    // Bypassing the qdisc also keeps forwarded frames away from the packet taps.
    if (qdisc_bypass) set_int(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS");
    bind_to(fd, ifindex, 0);  // protocol 0: this socket never receives
  } catch (...) {
    close(fd);
    throw;
  }
  return fd;
}

TxRing::TxRing(int ifindex, uint32_t frame_size, uint32_t frame_count)
    : frame_size_(frame_size), frame_count_(frame_count) {
  fd_ = open_tx_socket(ifindex, true);
  try {
    set_int(fd_, SOL_PACKET, PACKET_VERSION, TPACKET_V2, "PACKET_VERSION (TX)");
    tpacket_req req{};
    uint32_t block = 1u << 16;
    req.tp_block_size = block;
    req.tp_frame_size = frame_size;
    req.tp_frame_nr = frame_count;
    req.tp_block_nr = frame_count / (block / frame_size);
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

bool TxRing::enqueue(const uint8_t* frame, uint32_t len, const uint8_t* vlan_tag) {
  auto* hdr = reinterpret_cast<tpacket2_hdr*>(map_ + static_cast<size_t>(next_) * frame_size_);
  // The kernel flips a slot back to AVAILABLE once sent (or WRONG_FORMAT if it refused it).
  if (__atomic_load_n(&hdr->tp_status, __ATOMIC_ACQUIRE) & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING)) {
    return false;
  }
  uint32_t data_off = TPACKET2_HDRLEN - sizeof(sockaddr_ll);
  uint32_t out_len = len + (vlan_tag ? 4 : 0);
  if (out_len > frame_size_ - data_off) return false;
  uint8_t* out = reinterpret_cast<uint8_t*>(hdr) + data_off;
  if (vlan_tag) {
    std::memcpy(out, frame, 12);
    std::memcpy(out + 12, vlan_tag, 4);
    std::memcpy(out + 16, frame + 12, len - 12);
  } else {
    std::memcpy(out, frame, len);
  }
  hdr->tp_len = out_len;
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
