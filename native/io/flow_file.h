// A worker's flow table kept in a file (tmpfs, /run/las by default), mapped MAP_SHARED, so that the
// next daemon, also a newer build with the same layout, picks up every flow where this one left
// it. The header says what the slots mean; anything that differs starts an empty table, with why.
// The file stays locked (flock) while a process maps it: the table keeps a single writer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "../lb/flow_table.h"

namespace las {

// What a table in a file must match to be picked up.
struct FlowFileIdentity {
  uint32_t slots = 0;
  uint32_t capacity = 0;
  uint32_t workers = 0;
  uint32_t worker = 0;
};

class FlowFile {
 public:
  // Opens (creates, mode 0600) and locks path. Throws std::runtime_error naming the file when it
  // cannot, or when another live process holds it.
  explicit FlowFile(const std::string& path);
  ~FlowFile();  // releases the lock; the mapping belongs to the table it was handed to
  FlowFile(const FlowFile&) = delete;
  FlowFile& operator=(const FlowFile&) = delete;

  // Maps the file for `id` and hands the mapping to `table` (a v4 FlowTable or a v6 FlowTable6, each
  // in a file of its own). Returns "" when the file holds a table to restore(), otherwise why it
  // starts empty ("no table yet" for a new file).
  template <typename Entry>
  std::string attach(const FlowFileIdentity& id, BasicFlowTable<Entry>& table);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// "src@0:4 dst@4:4 ...": the entry's fields with offset and size, as the header records them.
std::string flow_entry_layout();
std::string flow_entry6_layout();  // the same for FlowEntry6

}  // namespace las
