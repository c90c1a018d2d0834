// A tiny kernel, built by nvcc, that checks a device really runs code (MODEL-19).
#include <cuda_runtime.h>

namespace {

__global__ void write_indices(int* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = i * 3 + 1;
}

}  // namespace

// Returns 0 when device `device` ran the kernel and gave the expected numbers,
// else a cudaError_t value (or -1 for wrong numbers).
extern "C" int aipool_gpu_selftest(int device) {
  if (cudaError_t e = cudaSetDevice(device); e != cudaSuccess) return static_cast<int>(e);
  constexpr int kCount = 256;
  int* device_buffer = nullptr;
  if (cudaError_t e = cudaMalloc(&device_buffer, kCount * sizeof(int)); e != cudaSuccess) return static_cast<int>(e);
  write_indices<<<(kCount + 127) / 128, 128>>>(device_buffer, kCount);
  int host[kCount] = {};
  cudaError_t e = cudaMemcpy(host, device_buffer, sizeof host, cudaMemcpyDeviceToHost);
  cudaFree(device_buffer);
  if (e != cudaSuccess) return static_cast<int>(e);
  for (int i = 0; i < kCount; ++i) {
    if (host[i] != i * 3 + 1) return -1;
  }
  return 0;
}
