#include "flow_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "../dataplane/fanout.h"

namespace las {

namespace {

constexpr uint64_t kMagic = 0x31574f4c4653414cULL;   // "LASFLOW1" in memory order: a v4 table
constexpr uint64_t kMagic6 = 0x36574f4c4653414cULL;  // "LASFLOW6": a v6 table (FlowEntry6)
constexpr uint32_t kHeaderVersion = 1;
// The slots start on a huge-page boundary (tmpfs may back them with huge pages); the header page
// before them stays sparse.
constexpr size_t kEntriesOffset = 2u << 20;

struct Header {
  uint64_t magic;            // written last: a file cut short while created is not a table
  uint32_t version;
  uint32_t entry_bytes;
  uint32_t slots, capacity, workers, worker;
  uint32_t table_hash;       // which slot a key goes to (the flow-table hash)
  uint32_t fanout_hash;      // which worker a key goes to
  uint64_t entries_offset;
  char boot_id[40];          // entries' times are CLOCK_MONOTONIC: meaningless after a reboot
  char layout[512];          // flow_entry_layout()
};
static_assert(sizeof(Header) <= 4096, "the header fits its page");

// Fingerprints of the two hashes: a newer build that changes either sends keys elsewhere.
uint32_t table_hash_identity(const FlowEntry*) {
  return static_cast<uint32_t>(hash_flow(FlowKeyFields{0x0a000001, 0xc6336401, 40000, 80, 6}, kFlowTableSeed));
}
uint32_t table_hash_identity(const FlowEntry6*) {
  FlowKey6 k{};
  for (uint8_t i = 0; i < 16; ++i) {
    k.src[i] = static_cast<uint8_t>(0x20 + i);
    k.dst[i] = static_cast<uint8_t>(0xfd - i);
  }
  k.sport = 40000;
  k.dport = 80;
  k.proto = 6;
  return static_cast<uint32_t>(hash_flow6(k, kFlowTableSeed)) ^ server_identity6(k.src);
}
uint64_t magic_of(const FlowEntry*) { return kMagic; }
uint64_t magic_of(const FlowEntry6*) { return kMagic6; }
std::string layout_of(const FlowEntry*) { return flow_entry_layout(); }
std::string layout_of(const FlowEntry6*) { return flow_entry6_layout(); }
uint32_t fanout_hash_identity() { return fanout_mix(0x0a000001, 0xc6336401, (40000u << 16) | 80); }

std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

std::string bounded(const char* text, size_t max) { return std::string(text, strnlen(text, max)); }

std::string system_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

namespace {
template <typename Entry>
std::string layout() {
  std::string out = "bytes=" + std::to_string(sizeof(Entry));
#define LAS_FIELD(member, name) \
  out += std::string(" ") + name + "@" + std::to_string(offsetof(Entry, member)) + ":" + std::to_string(sizeof(Entry::member));
  LAS_FLOW_ENTRY_FIELDS(LAS_FIELD)
  LAS_FIELD(check, "check")
#undef LAS_FIELD
  return out;
}
}  // namespace

std::string flow_entry_layout() { return layout<FlowEntry>(); }
std::string flow_entry6_layout() { return layout<FlowEntry6>(); }

FlowFile::FlowFile(const std::string& path) : path_(path) {
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0)
    throw std::runtime_error("flowTable.persistDirectory: cannot open " + path + " (" + std::strerror(errno) +
                             "): make the directory writable by the daemon, or set \"persistDirectory\": false");
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw std::runtime_error("flowTable.persistDirectory: " + path +
                               " is in use by another running LAS daemon (it holds the file's lock): stop that daemon first, "
                               "or give this one its own flowTable.persistDirectory");
    errno = err;
    throw std::runtime_error(system_error("flowTable.persistDirectory: cannot lock", path));
  }
}

FlowFile::~FlowFile() {
  if (fd_ >= 0) close(fd_);
}

template <typename Entry>
std::string FlowFile::attach(const FlowFileIdentity& id, BasicFlowTable<Entry>& table) {
  const size_t entries_bytes = static_cast<size_t>(id.slots) * sizeof(Entry);
  constexpr size_t kHuge = 2u << 20;
  const size_t map_bytes = kEntriesOffset + (entries_bytes + kHuge - 1) / kHuge * kHuge;
  const Entry* kind = nullptr;  // picks the entry type's magic, layout and hash fingerprint
  const uint64_t magic = magic_of(kind);
  const std::string layout = layout_of(kind);
  const std::string boot = boot_id();

  // Why the file cannot be picked up, checked field by field; "" when it can.
  std::string why;
  struct stat st {};
  if (fstat(fd_, &st) != 0) throw std::runtime_error(system_error("flowTable.persistDirectory: cannot stat", path_));
  if (st.st_size == 0) {
    why = "no table yet";
  } else if (static_cast<size_t>(st.st_size) < sizeof(Header)) {
    why = "the file is too short to be a LAS flow table";
  } else {
    Header h{};
    if (pread(fd_, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) why = "its header cannot be read";
    else if (h.magic != magic) why = "it is not a LAS flow table (or was cut short while written)";
    else if (h.version != kHeaderVersion) why = "header version " + std::to_string(h.version) + ", this build writes " + std::to_string(kHeaderVersion);
    else if (bounded(h.layout, sizeof h.layout) != layout || h.entry_bytes != sizeof(Entry))
      why = "entry layout \"" + bounded(h.layout, sizeof h.layout) + "\", this build's is \"" + layout + "\"";
    else if (h.table_hash != table_hash_identity(kind) || h.fanout_hash != fanout_hash_identity())
      why = "written by a build that hashes flows differently";
    else if (bounded(h.boot_id, sizeof h.boot_id) != boot) why = "written before the last reboot (its times mean nothing now)";
    else if (h.workers != id.workers) why = "written by " + std::to_string(h.workers) + " workers, now " + std::to_string(id.workers);
    else if (h.capacity != id.capacity || h.slots != id.slots)
      why = "flowTable.capacity was " + std::to_string(h.capacity) + ", now " + std::to_string(id.capacity);
    else if (h.worker != id.worker || h.entries_offset != kEntriesOffset) why = "written for another worker";
    else if (static_cast<size_t>(st.st_size) != map_bytes) why = "the file's size does not match its header";
  }
  if (!why.empty()) {
    // A fresh table: the old contents go, zeroed slots come from the file system.
    if (ftruncate(fd_, 0) != 0 || ftruncate(fd_, static_cast<off_t>(map_bytes)) != 0)
      throw std::runtime_error(system_error("flowTable.persistDirectory: cannot size", path_));
  }
  void* m = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (m == MAP_FAILED) throw std::runtime_error(system_error("flowTable.persistDirectory: cannot map", path_));
  auto* base = static_cast<uint8_t*>(m);
  auto* entries = reinterpret_cast<Entry*>(base + kEntriesOffset);
  madvise(entries, map_bytes - kEntriesOffset, MADV_HUGEPAGE);
  if (!why.empty()) {
    std::memset(entries, 0, entries_bytes);  // fault it all in now, not on the fast path
    auto* h = reinterpret_cast<Header*>(base);
    std::memset(h, 0, sizeof *h);
    h->version = kHeaderVersion;
    h->entry_bytes = sizeof(Entry);
    h->slots = id.slots;
    h->capacity = id.capacity;
    h->workers = id.workers;
    h->worker = id.worker;
    h->table_hash = table_hash_identity(kind);
    h->fanout_hash = fanout_hash_identity();
    h->entries_offset = kEntriesOffset;
    std::strncpy(h->boot_id, boot.c_str(), sizeof h->boot_id - 1);
    std::strncpy(h->layout, layout.c_str(), sizeof h->layout - 1);
    __atomic_store_n(&h->magic, magic, __ATOMIC_RELEASE);
  }
  table.use_memory(m, map_bytes, entries);
  return why;
}

template std::string FlowFile::attach(const FlowFileIdentity&, FlowTable&);
template std::string FlowFile::attach(const FlowFileIdentity&, FlowTable6&);

}  // namespace las
