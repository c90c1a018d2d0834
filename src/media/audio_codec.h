// File: audio_codec.h
// Audio for the speech executor and the orchestrator's input check
// (spec/speech_ocr.md ASR-2..ASR-4). libsndfile reads the file from memory
// (virtual I/O, no temporary file); libsamplerate resamples. No Poco, no torch.
//
//  probe_audio            what the file's header says: the container (WAV, FLAC or OGG),
//                         channels, sample rate, frames and duration. Decodes no
//                         samples: cheap enough for the orchestrator (RETRY-5, ASR-2).
//  decode_audio_16k_mono  every sample, mixed down to mono (the mean of the channels)
//                         and resampled to 16 kHz with SRC_SINC_MEDIUM_QUALITY, as
//                         floats in [-1, 1]. Streams: the whole file at its own rate
//                         is never held in memory, only the 16 kHz output (ASR-3).
//
// Errors say what is wrong, e.g. "not a readable WAV, FLAC or OGG audio file (libsndfile:
// Format not recognised.)", "the audio is 4000.0 s long, above the limit of 3600 s",
// "the audio has no samples".
//
// Contract: pure functions; thread-safe (each call opens its own libsndfile handle
// and libsamplerate state); deterministic for a given build.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace aipool::media {

enum class AudioFormat { kWav, kFlac, kOgg };

// "WAV", "FLAC", "OGG".
std::string_view audio_format_name(AudioFormat format);

struct AudioInfo {
  AudioFormat format = AudioFormat::kWav;
  int channels = 0;
  int sample_rate = 0;       // Hz
  std::int64_t frames = 0;   // samples per channel
  double duration_s() const { return sample_rate > 0 ? static_cast<double>(frames) / sample_rate : 0.0; }
};

struct AudioError {
  std::string message;
  bool too_long = false;  // above the duration limit (not a malformed file)
};

// The rate the speech executor decodes at.
constexpr int kSpeechSampleRate = 16000;
// The longest audio accepted (ASR-2): one hour.
constexpr double kMaxAudioSeconds = 3600.0;

// The container and shape from the header, without decoding samples. Fails for a
// file libsndfile cannot open, a container other than WAV (incl. WAVEX, RF64), FLAC
// or OGG, no channels or samples, a rate outside 1 kHz..768 kHz, a length the file
// cannot hold (over 10,000 samples per byte: a truncated OGG), or a duration above
// `max_seconds` (too_long set).
std::variant<AudioInfo, AudioError> probe_audio(std::string_view bytes, double max_seconds = kMaxAudioSeconds);

// Every sample as 16 kHz mono floats (probe_audio's checks first). A file whose data
// cannot be decoded past some point fails with the position and libsndfile's reason.
std::variant<std::vector<float>, AudioError> decode_audio_16k_mono(std::string_view bytes,
                                                                   double max_seconds = kMaxAudioSeconds);

}  // namespace aipool::media
