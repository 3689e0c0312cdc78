#include "flow_table.h"

#include <sys/mman.h>

#include <cstring>
#include <new>

namespace las {

FlowTable::FlowTable(uint32_t capacity) : capacity_(capacity) {
  uint64_t want = static_cast<uint64_t>(capacity) * 4 / 3 + 1;
  uint64_t slots = 16;
  while (slots < want) slots <<= 1;
  mask_ = static_cast<uint32_t>(slots - 1);
  // Random lookups over tens of MiB miss the TLB on nearly every packet with 4 KiB pages (costly
  // under nested paging): ask for transparent huge pages, in whole 2 MiB units.
  constexpr size_t kHuge = 2u << 20;
  bytes_ = (slots * sizeof(FlowEntry) + kHuge - 1) / kHuge * kHuge;
  void* m = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  madvise(m, bytes_, MADV_HUGEPAGE);
  std::memset(m, 0, bytes_);  // fault it all in now, not on the fast path
  entries_ = static_cast<FlowEntry*>(m);
  map_ = m;
}

FlowTable::~FlowTable() { munmap(map_, bytes_); }

void FlowTable::use_memory(void* map, size_t map_bytes, FlowEntry* entries) {
  munmap(map_, bytes_);
  map_ = map;
  bytes_ = map_bytes;
  entries_ = entries;
  size_ = 0;
  cursor_ = 0;
}

FlowTable::Restored FlowTable::restore(KeepHook keep, void* ctx) {
  Restored r;
  size_ = 0;
  for (uint32_t i = 0; i <= mask_; ++i) size_ += entries_[i].used ? 1 : 0;
  // erase() shifts later entries back into the freed slot, so that slot is looked at again. Its
  // holes only move forward: an entry not yet looked at never lands behind the cursor.
  for (uint32_t i = 0; i <= mask_;) {
    FlowEntry& e = entries_[i];
    if (e.used) {
      FlowKeyFields k{e.src, e.dst, e.sport, e.dport, e.proto};
      uint32_t* why = nullptr;
      if (e.check != entry_check(e)) why = &r.torn;
      else if (find(k, hash_flow(k, kFlowTableSeed)) != &e) why = &r.duplicate;  // lookups never reach it
      else if (!keep(ctx, e)) why = &r.refused;
      if (why) {
        ++*why;
        erase(&e);
        continue;
      }
    }
    ++i;
  }
  r.kept = size_;
  return r;
}

uint32_t FlowTable::home(const FlowEntry& e) const {
  FlowKeyFields k{e.src, e.dst, e.sport, e.dport, e.proto};
  return static_cast<uint32_t>(hash_flow(k, kFlowTableSeed)) & mask_;
}

FlowEntry* FlowTable::find(const FlowKeyFields& key, uint64_t hash) {
  for (uint32_t i = static_cast<uint32_t>(hash) & mask_;; i = (i + 1) & mask_) {
    FlowEntry& e = entries_[i];
    if (!e.used) return nullptr;
    if (same_key(e, key)) return &e;
  }
}

FlowEntry* FlowTable::insert(const FlowKeyFields& key, uint64_t hash) {
  if (size_ >= capacity_) return nullptr;
  for (uint32_t i = static_cast<uint32_t>(hash) & mask_;; i = (i + 1) & mask_) {
    FlowEntry& e = entries_[i];
    if (e.used) continue;
    std::memset(&e, 0, sizeof e);
    e.used = 1;
    e.src = key.src;
    e.dst = key.dst;
    e.sport = key.sport;
    e.dport = key.dport;
    e.proto = key.proto;
    ++size_;
    return &e;
  }
}

// Backward-shift deletion keeps every probe chain unbroken without tombstones.
void FlowTable::erase(FlowEntry* entry) {
  uint32_t hole = static_cast<uint32_t>(entry - entries_);
  for (uint32_t j = (hole + 1) & mask_;; j = (j + 1) & mask_) {
    FlowEntry& e = entries_[j];
    if (!e.used) break;
    uint32_t h = home(e);
    // e may move into the hole only if its home is not cyclically inside (hole, j].
    bool home_between = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
    if (home_between) continue;
    entries_[hole] = e;
    hole = j;
  }
  entries_[hole].used = 0;
  --size_;
}

uint32_t FlowTable::sweep(uint32_t now_ms, uint32_t idle_ms, uint32_t budget, EraseHook on_erase, void* ctx) {
  uint32_t removed = 0;
  for (uint32_t n = 0; n < budget && size_ > 0; ++n) {
    FlowEntry& e = entries_[cursor_];
    if (e.used && now_ms - e.last_seen_ms > idle_ms) {
      if (on_erase) on_erase(ctx, e);
      erase(&e);  // a later entry may have shifted into this slot: look at it again
      ++removed;
      continue;
    }
    cursor_ = (cursor_ + 1) & mask_;
  }
  return removed;
}

}  // namespace las
