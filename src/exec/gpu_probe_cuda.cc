// gpu_probe.h through the CUDA runtime.
#include <cuda_runtime_api.h>

#include <string>

#include "exec/gpu_probe.h"

extern "C" int aipool_gpu_selftest(int device);

namespace aipool::exec {

bool built_with_cuda() { return true; }

GpuProbe probe_gpus(const std::vector<std::string>& ids, bool all) {
  GpuProbe probe;
  int count = 0;
  if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) {
    probe.note = std::string("no usable CUDA driver (") + cudaGetErrorString(e) + "): running on the CPU";
    return probe;
  }
  std::vector<int> wanted;
  if (all) {
    for (int i = 0; i < count; ++i) wanted.push_back(i);
  } else {
    for (const std::string& id : ids) {
      try {
        wanted.push_back(std::stoi(id));
      } catch (const std::exception&) {
        probe.note = "GPU id \"" + id + "\" is not a number";
        return probe;
      }
    }
  }
  for (int index : wanted) {
    if (index < 0 || index >= count) {
      probe.note = "GPU " + std::to_string(index) + " does not exist (" + std::to_string(count) + " found)";
      continue;
    }
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, index) != cudaSuccess) continue;
    GpuDevice device;
    device.id = std::to_string(index);
    device.name = prop.name;
    device.major = static_cast<std::uint32_t>(prop.major);
    device.minor = static_cast<std::uint32_t>(prop.minor);
    device.memory_total = static_cast<std::int64_t>(prop.totalGlobalMem);
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    if (cudaSetDevice(index) == cudaSuccess && cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      device.memory_free = static_cast<std::int64_t>(free_bytes);
    }
    if (const int failed = aipool_gpu_selftest(index); failed != 0) {
      probe.note = "GPU " + device.id + " failed its self-test (" +
                   (failed > 0 ? cudaGetErrorString(static_cast<cudaError_t>(failed)) : "wrong results") + ")";
      continue;
    }
    probe.devices.push_back(device);
  }
  if (probe.devices.empty() && probe.note.empty()) probe.note = "no CUDA device found: running on the CPU";
  return probe;
}

bool gpu_memory(const std::string& id, std::int64_t& memory_free, std::int64_t& memory_total) {
  int index = 0;
  try {
    index = std::stoi(id);
  } catch (const std::exception&) {
    return false;
  }
  size_t free_bytes = 0;
  size_t total_bytes = 0;
  if (cudaSetDevice(index) != cudaSuccess || cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) return false;
  memory_free = static_cast<std::int64_t>(free_bytes);
  memory_total = static_cast<std::int64_t>(total_bytes);
  return true;
}

}  // namespace aipool::exec
