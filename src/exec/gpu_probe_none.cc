// gpu_probe.h for builds without the CUDA toolkit.
#include "exec/gpu_probe.h"

namespace aipool::exec {

bool built_with_cuda() { return false; }

bool gpu_memory(const std::string& /*id*/, std::int64_t& /*memory_free*/, std::int64_t& /*memory_total*/) {
  return false;
}

GpuProbe probe_gpus(const std::vector<std::string>& /*ids*/, bool /*all*/) {
  GpuProbe probe;
  probe.note = "this build has no CUDA runtime (the CUDA toolkit was not found at build time): running on the CPU";
  return probe;
}

}  // namespace aipool::exec
