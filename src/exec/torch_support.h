// File: torch_support.h
// Internal to aipool_exec_torch (builtin_image.cc, torchscript.cc): libtorch's thread
// count and the conversions between decoded images and tensors. The header names
// at::Tensor without including torch, so no torch header reaches other targets.
#pragma once

#include "media/image_codec.h"

namespace at {
class Tensor;
}

namespace aipool::exec::torch_support {

// MODEL-13: `requested`, or std::thread::hardware_concurrency() when 0 (at least 1).
int thread_count(int requested);
// MODEL-13: sets libtorch's intra-op thread count for the process (first call wins)
// and applies it to the calling thread (once per thread); call at the start of every
// job, and in the constructor so that the count is set before any job runs.
void prepare_thread(int requested);

// 8-bit RGB (3 channels), rows top to bottom -> float32 [1,3,H,W] times `scale`
// (1: values 0..255; 1/255: values in [0,1]), in the channels-last layout (call
// contiguous() for NCHW memory).
at::Tensor to_tensor(const media::Image& rgb, float scale);
// A float tensor [1,C,H,W] or [C,H,W] with C 1 or 3 (any device) -> 8-bit RGB:
// value times `scale`, rounded to the nearest integer (ties to even) and clamped to
// 0..255; NaN gives 0.
// REQUIRES: the shape is one of those (callers check it).
media::Image to_image(const at::Tensor& tensor, float scale);

}  // namespace aipool::exec::torch_support
