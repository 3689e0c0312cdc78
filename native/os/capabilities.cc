#include "capabilities.h"

#include <dirent.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace las {

namespace {

std::atomic<uint64_t> g_mask{0};
std::mutex g_drop_mutex;

bool capget_self(__user_cap_data_struct (&data)[2]) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capget, &hdr, data) == 0;
}

// Raw syscalls only: this also runs inside the signal handler. Lowering permitted and inheritable
// makes the kernel clear the same bits from the ambient set.
bool drop_self(uint64_t mask) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  for (int i = 0; i < 2; ++i) {
    uint32_t m = static_cast<uint32_t>(mask >> (32 * i));
    data[i].effective &= ~m;
    data[i].permitted &= ~m;
    data[i].inheritable &= ~m;
  }
  return syscall(SYS_capset, &hdr, data) == 0;
}

void on_drop_signal(int) {
  int saved = errno;
  drop_self(g_mask.load(std::memory_order_acquire));
  errno = saved;
}

// Another thread's permitted set (capget() may read any thread's sets).
uint64_t permitted_of(pid_t tid) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, tid};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return 0;  // the thread is gone
  return static_cast<uint64_t>(data[1].permitted) << 32 | data[0].permitted;
}

std::vector<pid_t> threads() {
  std::vector<pid_t> out;
  DIR* dir = opendir("/proc/self/task");
  if (!dir) throw std::runtime_error(std::string("cannot list /proc/self/task: ") + std::strerror(errno));
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9') out.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
  }
  closedir(dir);
  return out;
}

// A thread that blocks `sig` never runs the handler (Node's SIGUSR1 watchdog blocks every signal).
bool blocks_signal(pid_t tid, int sig) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/status", static_cast<int>(tid));
  FILE* f = std::fopen(path, "r");
  if (!f) return false;
  char line[256];
  unsigned long long blocked = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "SigBlk: %llx", &blocked) == 1) break;
  std::fclose(f);
  return (blocked >> (sig - 1)) & 1;
}

std::string thread_name(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/comm", static_cast<int>(tid));
  FILE* f = std::fopen(path, "r");
  if (!f) return "?";
  char name[32] = {0};
  if (!std::fgets(name, sizeof name, f)) name[0] = 0;
  std::fclose(f);
  std::string s(name);
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace

void clear_child_capabilities() {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
    throw std::runtime_error(std::string("prctl(PR_CAP_AMBIENT_CLEAR_ALL): ") + std::strerror(errno));
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) throw std::runtime_error(std::string("capget: ") + std::strerror(errno));
  data[0].inheritable = data[1].inheritable = 0;
  if (syscall(SYS_capset, &hdr, data) != 0) throw std::runtime_error(std::string("capset: ") + std::strerror(errno));
}

uint64_t effective_capabilities() {
  __user_cap_data_struct data[2]{};
  if (!capget_self(data)) throw std::runtime_error(std::string("capget: ") + std::strerror(errno));
  return static_cast<uint64_t>(data[1].effective) << 32 | data[0].effective;
}

CapDropResult drop_capabilities(uint64_t mask) {
  std::lock_guard<std::mutex> lock(g_drop_mutex);
  CapDropResult result;
  if (mask == 0) return result;
  g_mask.store(mask, std::memory_order_release);
  // Node and libuv leave the real-time signals alone; one of them carries the request to each thread.
  const int sig = SIGRTMAX - 2;
  struct sigaction sa {}, old {};
  sa.sa_handler = on_drop_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, &old) != 0) throw std::runtime_error(std::string("sigaction: ") + std::strerror(errno));
  if (old.sa_handler != SIG_DFL && old.sa_handler != on_drop_signal) {
    sigaction(sig, &old, nullptr);
    throw std::runtime_error("signal " + std::to_string(sig) + " is already in use; cannot drop capabilities per thread");
  }
  const pid_t pid = getpid();
  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  if (!drop_self(mask)) throw std::runtime_error(std::string("capset: ") + std::strerror(errno));
  result.changed = 1;
  // Threads may start meanwhile (they inherit the set of the thread that creates them): re-list until
  // every thread still holding a dropped bit has blocked the signal for kSteadyRounds rounds in a row.
  // One look is not enough: a thread being created runs with every signal blocked for a moment, and
  // its pending signal is delivered when it unblocks. Each thread is signalled once (real-time
  // signals queue). Bounded: 200 rounds of 5 ms.
  constexpr int kSteadyRounds = 20;
  std::vector<pid_t> signalled, holding;
  std::vector<std::pair<pid_t, int>> blocked_streak;
  for (int round = 0; round < 200; ++round) {
    holding.clear();
    bool waiting = false;
    for (pid_t tid : threads()) {
      if (tid == self || (permitted_of(tid) & mask) == 0) continue;
      holding.push_back(tid);
      if (std::find(signalled.begin(), signalled.end(), tid) == signalled.end()) {
        signalled.push_back(tid);
        syscall(SYS_tgkill, pid, tid, sig);
      }
      auto it = std::find_if(blocked_streak.begin(), blocked_streak.end(), [tid](const auto& e) { return e.first == tid; });
      if (it == blocked_streak.end()) it = blocked_streak.insert(blocked_streak.end(), {tid, 0});
      it->second = blocks_signal(tid, sig) ? it->second + 1 : 0;
      if (it->second < kSteadyRounds) waiting = true;
    }
    if (!waiting) {
      result.changed += static_cast<uint32_t>(signalled.size() - holding.size());
      for (pid_t tid : holding) result.kept.push_back(std::to_string(tid) + " (" + thread_name(tid) + ")");
      return result;
    }
    timespec pause{0, 5 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
  std::string names;
  for (pid_t tid : holding) names += (names.empty() ? "" : ", ") + std::to_string(tid) + " (" + thread_name(tid) + ")";
  throw std::runtime_error("these threads did not drop the capabilities within 1 s: " + names);
}

}  // namespace las
