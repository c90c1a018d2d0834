// File: process_memory.h
// How the orchestrator and worker processes keep freed memory for reuse.
//
// Both processes move bodies of megabytes per job (inputs, outputs, base64 data
// URLs). With glibc's defaults a buffer that large is mapped fresh for each job and
// unmapped when freed, or the arena that held it is trimmed back to the kernel, so
// every job pays a page fault and a zeroed page per 4 KiB touched (most of a 4 MiB
// output's cost in the worker). keep_large_buffers() makes such buffers come from
// the heap and stay there once freed, up to `retain_bytes` per arena.
//
// Contract: call once, early in main(), before other threads start. A no-op where
// the C library is not glibc. Memory kept this way is reused by the next job; it is
// not returned to the system while the process lives.
#pragma once

#include <cstddef>

namespace aipool::net {

// The bound the binaries use: the default largest inline input (64 MiB).
inline constexpr std::size_t kRetainedHeapBytes = std::size_t{64} << 20;

void keep_large_buffers(std::size_t retain_bytes = kRetainedHeapBytes);

}  // namespace aipool::net
