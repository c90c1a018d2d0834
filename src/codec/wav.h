// File: wav.h
// 16-bit mono PCM samples as a RIFF WAVE file (the canonical 44-byte header), for
// the text-to-speech engines' `audio.wav` (spec/models.md MODEL-20).
//
// Contract: pure; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace aipool::codec {

// A WAV file of `count` samples at `rate` Hz; `samples` null: silence.
std::string pcm16_mono_wav(const std::int16_t* samples, std::size_t count, std::uint32_t rate);

}  // namespace aipool::codec
