// File: gpu_probe.h
// Finds the worker's NVIDIA GPUs through the CUDA runtime (MODEL-19): name, memory and
// compute capability of each, to report in the registration and in the orchestrator's
// /workers. Built with the CUDA toolkit when CMake finds it (cudart, plus a tiny nvcc
// kernel that checks a device really runs code); otherwise, and on a machine without a
// driver, it finds none and says why, and the worker runs on the CPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aipool::exec {

struct GpuDevice {
  std::string id;  // the CUDA device index, as text ("0")
  std::string name;
  std::uint32_t major = 0;  // compute capability
  std::uint32_t minor = 0;
  std::int64_t memory_free = 0;   // bytes
  std::int64_t memory_total = 0;  // bytes
};

struct GpuProbe {
  std::vector<GpuDevice> devices;
  std::string note;  // when no device is usable: why (no CUDA in this build, no driver, ...)
};

// The devices among `ids` (all devices when `ids` is empty and `all` is true).
GpuProbe probe_gpus(const std::vector<std::string>& ids, bool all);
// Memory of one device now (spec/metrics.md MET-7), without the probe's self-test:
// memory_free and memory_total of the device `id` ("0"); false when it cannot be read
// (no CUDA in this build, no such device, no driver).
bool gpu_memory(const std::string& id, std::int64_t& memory_free, std::int64_t& memory_total);

// True when this build was made with the CUDA toolkit.
bool built_with_cuda();

}  // namespace aipool::exec
