// Where a worker runs and where its memory lives: pinning a thread to one
// CPU (pthread_setaffinity_np) and NUMA-local allocation through libnuma.
// Without libnuma, or on a machine where numa_available() fails, the NUMA
// calls fall back to the kernel's default first-touch placement.
//
// libnuma is used whenever <numa.h> is visible and LAMINAR_NO_NUMA is not
// defined; a program that runs a graph then links libnuma (-lnuma). CMake
// consumers get that choice from laminar::laminar, made on their machine; a
// plain compiler user passes -lnuma, or -DLAMINAR_NO_NUMA (README.md).
#pragma once

#include <pthread.h>
#include <sched.h>

#include <cstddef>
#include <thread>
#include <vector>

#if defined(LAMINAR_NO_NUMA)
#define LAMINAR_HAS_NUMA 0
#elif __has_include(<numa.h>)
#include <numa.h>
#define LAMINAR_HAS_NUMA 1
#else
#define LAMINAR_HAS_NUMA 0
#endif

namespace laminar {

/// The CPUs this process may run on, in ascending order.
inline std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (std::size_t c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(static_cast<int>(c));
    }
  }
  if (cpus.empty()) {
    const unsigned n = std::thread::hardware_concurrency();
    for (unsigned c = 0; c < (n ? n : 1); ++c) cpus.push_back(static_cast<int>(c));
  }
  return cpus;
}

/// Pins the calling thread to one CPU; returns false if the kernel refused.
inline bool pin_current_thread(int cpu) noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<std::size_t>(cpu), &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

/// Which NUMA support the runtime found.
struct numa_info {
  bool available = false;  ///< libnuma present and numa_available() succeeded
  int nodes = 1;           ///< configured NUMA nodes (1 without NUMA)
};

inline numa_info numa_probe() noexcept {
#if LAMINAR_HAS_NUMA
  if (numa_available() >= 0) return {true, numa_max_node() + 1};
#endif
  return {};
}

/// The NUMA node of a CPU (0 without NUMA).
inline int numa_node_of_cpu_or_zero(int cpu) noexcept {
#if LAMINAR_HAS_NUMA
  if (numa_available() >= 0) {
    const int node = numa_node_of_cpu(cpu);
    return node < 0 ? 0 : node;
  }
#endif
  (void)cpu;
  return 0;
}

/// Makes the calling thread allocate from its own NUMA node. The runtime
/// builds each worker's channels and operator state on the worker's thread
/// after this call, so they land on the worker's node. Returns false where
/// NUMA is absent (the kernel's first-touch placement then applies, which is
/// also local on a pinned thread).
inline bool prefer_local_memory() noexcept {
#if LAMINAR_HAS_NUMA
  if (numa_available() >= 0) {
    numa_set_localalloc();
    return true;
  }
#endif
  return false;
}

}  // namespace laminar
