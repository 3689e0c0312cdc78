#include "flow_table.h"

#include <sys/mman.h>

#include <cstring>
#include <new>

namespace las {

template <typename Entry>
BasicFlowTable<Entry>::BasicFlowTable(uint32_t capacity) : capacity_(capacity) {
  uint64_t want = static_cast<uint64_t>(capacity) * 4 / 3 + 1;
  uint64_t slots = 16;
  while (slots < want) slots <<= 1;
  mask_ = static_cast<uint32_t>(slots - 1);
  // Random lookups over tens of MiB miss the TLB on nearly every packet with 4 KiB pages (costly
  // under nested paging): ask for transparent huge pages, in whole 2 MiB units.
  constexpr size_t kHuge = 2u << 20;
  bytes_ = (slots * sizeof(Entry) + kHuge - 1) / kHuge * kHuge;
  void* m = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  madvise(m, bytes_, MADV_HUGEPAGE);
  std::memset(m, 0, bytes_);  // fault it all in now, not on the fast path
  entries_ = static_cast<Entry*>(m);
  map_ = m;
}

template <typename Entry>
BasicFlowTable<Entry>::~BasicFlowTable() { munmap(map_, bytes_); }

template <typename Entry>
void BasicFlowTable<Entry>::use_memory(void* map, size_t map_bytes, Entry* entries) {
  munmap(map_, bytes_);
  map_ = map;
  bytes_ = map_bytes;
  entries_ = entries;
  size_ = 0;
  cursor_ = 0;
}

template <typename Entry>
typename BasicFlowTable<Entry>::Restored BasicFlowTable<Entry>::restore(KeepHook keep, void* ctx) {
  Restored r;
  size_ = 0;
  for (uint32_t i = 0; i <= mask_; ++i) size_ += entries_[i].used ? 1 : 0;
  // erase() shifts later entries back into the freed slot, so that slot is looked at again. Its
  // holes only move forward: an entry not yet looked at never lands behind the cursor.
  for (uint32_t i = 0; i <= mask_;) {
    Entry& e = entries_[i];
    if (e.used) {
      Key k = key_of(e);
      uint32_t* why = nullptr;
      if (e.check != entry_check(e)) why = &r.torn;
      else if (find(k, table_hash(k)) != &e) why = &r.duplicate;  // lookups never reach it
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

template <typename Entry>
uint32_t BasicFlowTable<Entry>::home(const Entry& e) const {
  return static_cast<uint32_t>(table_hash(key_of(e))) & mask_;
}

template <typename Entry>
Entry* BasicFlowTable<Entry>::find(const Key& key, uint64_t hash) {
  for (uint32_t i = static_cast<uint32_t>(hash) & mask_;; i = (i + 1) & mask_) {
    Entry& e = entries_[i];
    if (!e.used) return nullptr;
    if (same_key(e, key)) return &e;
  }
}

template <typename Entry>
Entry* BasicFlowTable<Entry>::insert(const Key& key, uint64_t hash) {
  if (size_ >= capacity_) return nullptr;
  for (uint32_t i = static_cast<uint32_t>(hash) & mask_;; i = (i + 1) & mask_) {
    Entry& e = entries_[i];
    if (e.used) continue;
    std::memset(&e, 0, sizeof e);
    e.used = 1;
    set_key(e, key);
    ++size_;
    return &e;
  }
}

// Backward-shift deletion keeps every probe chain unbroken without tombstones.
template <typename Entry>
void BasicFlowTable<Entry>::erase(Entry* entry) {
  uint32_t hole = static_cast<uint32_t>(entry - entries_);
  for (uint32_t j = (hole + 1) & mask_;; j = (j + 1) & mask_) {
    Entry& e = entries_[j];
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

template <typename Entry>
uint32_t BasicFlowTable<Entry>::sweep(uint32_t now_ms, uint32_t idle_ms, uint32_t budget, EraseHook on_erase, void* ctx) {
  uint32_t removed = 0;
  for (uint32_t n = 0; n < budget && size_ > 0; ++n) {
    Entry& e = entries_[cursor_];
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

template class BasicFlowTable<FlowEntry>;
template class BasicFlowTable<FlowEntry6>;

}  // namespace las
