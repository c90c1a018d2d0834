#include "exec/torch_support.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#if defined(__SSE2__)
#include <immintrin.h>  // SSE2 always; SSSE3 only in functions built for it (checked at run time)
#endif

#include <algorithm>
#include <cmath>
#include <mutex>
#include <thread>

namespace aipool::exec::torch_support {

int thread_count(int requested) {
  if (requested > 0) return requested;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void prepare_thread(int requested) {
  // libtorch keeps one count for the process; OpenMP applies it per thread, and a
  // thread that ran a parallel op before the count was set keeps the old one. So it
  // is applied once in every thread that runs a job. Not on every job: set_num_threads
  // also rebuilds libtorch's pthreadpool, which costs more than a small job.
  static std::once_flag once;
  std::call_once(once, [requested] { at::set_num_threads(thread_count(requested)); });
  thread_local bool applied = false;
  if (!applied) {
    at::init_num_threads();
    applied = true;
  }
}

at::Tensor to_tensor(const media::Image& rgb, float scale) {
  // [1,3,H,W] with channels-last strides, so the pixels convert in one linear pass
  // (which the compiler vectorises); libtorch's operators take this layout as it is.
  const std::int64_t h = rgb.height;
  const std::int64_t w = rgb.width;
  at::Tensor out = at::empty({1, h, w, 3}, at::kFloat).permute({0, 3, 1, 2});
  float* dst = out.data_ptr<float>();
  const std::uint8_t* src = rgb.pixels.data();
  at::parallel_for(0, h * w * 3, 1 << 18, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) dst[i] = static_cast<float>(src[i]) * scale;
  });
  return out;
}

namespace {

// Rounds to the nearest integer, ties to even (the SSE2 conversion's rule), and clamps
// to 0..255; NaN gives 0.
inline std::uint8_t to_byte(float v) {
  if (!(v > 0.0f)) return 0;
  if (v >= 255.0f) return 255;
  return static_cast<std::uint8_t>(std::nearbyint(v));
}

#if defined(__SSE2__)
// 16 floats times `scale` to 16 bytes, as to_byte does: cvtps rounds to nearest even,
// the two packs saturate to 0..255 (NaN converts to INT_MIN, so 0).
inline __m128i sixteen_bytes(const float* p, __m128 scale) {
  const __m128i a = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(p), scale));
  const __m128i b = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(p + 4), scale));
  const __m128i c = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(p + 8), scale));
  const __m128i d = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(p + 12), scale));
  return _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d));
}
#endif

#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#define AIPOOL_HAVE_SSSE3_PATH 1
// Byte j of output block k (of three 16-byte blocks, 16 pixels) comes from plane j % 3
// at index (16k + j) / 3; -128 (high bit) makes pshufb write zero there.
struct InterleaveMasks {
  alignas(16) std::int8_t m[3][3][16];
  InterleaveMasks() {
    for (int k = 0; k < 3; ++k) {
      for (int p = 0; p < 3; ++p) {
        for (int j = 0; j < 16; ++j) {
          const int o = 16 * k + j;
          m[k][p][j] = o % 3 == p ? static_cast<std::int8_t>(o / 3) : static_cast<std::int8_t>(-128);
        }
      }
    }
  }
};

// planar_row with SSSE3's pshufb for the interleave (4x faster than bytes one by one).
__attribute__((target("ssse3"))) std::int64_t planar_row_ssse3(const float* r, const float* g, const float* b,
                                                                float scale, std::uint8_t* out, std::int64_t w) {
  static const InterleaveMasks masks;
  __m128i m[3][3];
  for (int k = 0; k < 3; ++k) {
    for (int p = 0; p < 3; ++p) m[k][p] = _mm_load_si128(reinterpret_cast<const __m128i*>(masks.m[k][p]));
  }
  const __m128 k = _mm_set1_ps(scale);
  std::int64_t x = 0;
  for (; x + 16 <= w; x += 16) {
    const __m128i rr = sixteen_bytes(r + x, k);
    const __m128i gg = sixteen_bytes(g + x, k);
    const __m128i bb = sixteen_bytes(b + x, k);
    for (int block = 0; block < 3; ++block) {
      const __m128i v = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(rr, m[block][0]), _mm_shuffle_epi8(gg, m[block][1])),
                                     _mm_shuffle_epi8(bb, m[block][2]));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 3 * x + 16 * block), v);
    }
  }
  return x;  // pixels done
}

const bool kHaveSsse3 = __builtin_cpu_supports("ssse3");
#endif

// One row: three planes of `w` floats to `w` interleaved RGB pixels.
void planar_row(const float* r, const float* g, const float* b, float scale, std::uint8_t* out, std::int64_t w) {
  std::int64_t x = 0;
#if defined(AIPOOL_HAVE_SSSE3_PATH)
  if (kHaveSsse3) x = planar_row_ssse3(r, g, b, scale, out, w);
#endif
#if defined(__SSE2__)
  const __m128 k = _mm_set1_ps(scale);
  alignas(16) std::uint8_t rr[16];
  alignas(16) std::uint8_t gg[16];
  alignas(16) std::uint8_t bb[16];
  for (; x + 16 <= w; x += 16) {
    _mm_store_si128(reinterpret_cast<__m128i*>(rr), sixteen_bytes(r + x, k));
    _mm_store_si128(reinterpret_cast<__m128i*>(gg), sixteen_bytes(g + x, k));
    _mm_store_si128(reinterpret_cast<__m128i*>(bb), sixteen_bytes(b + x, k));
    std::uint8_t* o = out + 3 * x;
    for (int i = 0; i < 16; ++i) {
      o[3 * i] = rr[i];
      o[3 * i + 1] = gg[i];
      o[3 * i + 2] = bb[i];
    }
  }
#endif
  for (; x < w; ++x) {
    out[3 * x] = to_byte(r[x] * scale);
    out[3 * x + 1] = to_byte(g[x] * scale);
    out[3 * x + 2] = to_byte(b[x] * scale);
  }
}

// `n` floats to `n` bytes.
void linear_run(const float* src, float scale, std::uint8_t* out, std::int64_t n) {
  std::int64_t i = 0;
#if defined(__SSE2__)
  const __m128 k = _mm_set1_ps(scale);
  for (; i + 16 <= n; i += 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), sixteen_bytes(src + i, k));
  }
#endif
  for (; i < n; ++i) out[i] = to_byte(src[i] * scale);
}

}  // namespace

media::Image to_image(const at::Tensor& tensor, float scale) {
  at::Tensor t = tensor.dim() == 4 ? tensor[0] : tensor;
  t = t.to(at::kCPU, at::kFloat);
  const std::int64_t channels = t.size(0);
  const std::int64_t h = t.size(1);
  const std::int64_t w = t.size(2);
  media::Image image;
  image.width = static_cast<std::uint32_t>(w);
  image.height = static_cast<std::uint32_t>(h);
  image.channels = 3;
  image.pixels.resize(static_cast<std::size_t>(h * w * 3));
  std::uint8_t* dst = image.pixels.data();
  // Interleaved already (channels-last, as from a channels-last input): one linear pass.
  if (channels == 3 && t.stride(0) == 1 && t.stride(2) == 3 && t.stride(1) == 3 * w) {
    const float* src = t.data_ptr<float>();
    at::parallel_for(0, h, 16, [&](std::int64_t y0, std::int64_t y1) {
      linear_run(src + y0 * w * 3, scale, dst + y0 * w * 3, (y1 - y0) * w * 3);
    });
    return image;
  }
  t = t.contiguous();
  const float* src = t.data_ptr<float>();
  const std::int64_t plane = h * w;
  const std::int64_t step = channels == 3 ? plane : 0;  // one channel: gray in all three
  at::parallel_for(0, h, 16, [&](std::int64_t y0, std::int64_t y1) {
    for (std::int64_t y = y0; y < y1; ++y) {
      const float* r = src + y * w;
      planar_row(r, r + step, r + 2 * step, scale, dst + y * w * 3, w);
    }
  });
  return image;
}

}  // namespace aipool::exec::torch_support
