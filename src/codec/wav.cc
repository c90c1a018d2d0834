// 16-bit mono PCM as a RIFF WAVE file (wav.h).
#include "codec/wav.h"

namespace aipool::codec {

std::string pcm16_mono_wav(const std::int16_t* samples, std::size_t count, std::uint32_t rate) {
  const auto data_bytes = static_cast<std::uint32_t>(count * 2);
  std::string wav;
  wav.reserve(44 + data_bytes);
  const auto u32 = [&wav](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) wav += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  const auto u16 = [&wav](std::uint16_t v) {
    wav += static_cast<char>(v & 0xff);
    wav += static_cast<char>(v >> 8);
  };
  wav += "RIFF";
  u32(36 + data_bytes);
  wav += "WAVEfmt ";
  u32(16);
  u16(1);  // PCM
  u16(1);  // mono
  u32(rate);
  u32(rate * 2);
  u16(2);   // bytes per frame
  u16(16);  // bits per sample
  wav += "data";
  u32(data_bytes);
  if (samples == nullptr) {
    wav.append(data_bytes, '\0');
  } else {
    for (std::size_t i = 0; i < count; ++i) u16(static_cast<std::uint16_t>(samples[i]));
  }
  return wav;
}

}  // namespace aipool::codec
