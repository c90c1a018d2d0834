// Fuzz target: WAV, FLAC and OGG header probing (probe_audio, ASR-2: the
// orchestrator's check of an uploaded audio file) and, for short files it accepts,
// the speech executor's decode to 16 kHz mono (decode_audio_16k_mono, ASR-3). The
// input is the file.
#include <cstddef>
#include <cstdint>
#include <variant>
#include <vector>

#include "fuzz_input.h"
#include "media/audio_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aipool::media;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto probed = probe_audio(bytes);
  const auto* info = std::get_if<AudioInfo>(&probed);
  if (info == nullptr) return 0;
  aipool::fuzz::fuzz_check(info->channels > 0 && info->sample_rate > 0 && info->frames > 0 &&
                           info->duration_s() <= kMaxAudioSeconds);
  // A second of audio at most: the decode's cost grows with the duration.
  const auto decoded = decode_audio_16k_mono(bytes, 1.0);
  if (const auto* samples = std::get_if<std::vector<float>>(&decoded)) {
    aipool::fuzz::fuzz_check(samples->size() <= kSpeechSampleRate + 1024);
  }
  return 0;
}
