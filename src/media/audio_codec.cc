#include "media/audio_codec.h"

#include <samplerate.h>
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>

#include "media/ogg_vorbis_check.h"

namespace aipool::media {
namespace {

// libsndfile's virtual I/O over bytes in memory (read only).
struct MemoryFile {
  std::string_view bytes;
  sf_count_t pos = 0;
};

sf_count_t vio_length(void* user) { return static_cast<sf_count_t>(static_cast<MemoryFile*>(user)->bytes.size()); }

sf_count_t vio_seek(sf_count_t offset, int whence, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  const auto size = static_cast<sf_count_t>(file->bytes.size());
  sf_count_t target = offset;
  if (whence == SEEK_CUR) target = file->pos + offset;
  if (whence == SEEK_END) target = size + offset;
  file->pos = std::clamp<sf_count_t>(target, 0, size);
  return file->pos;
}

sf_count_t vio_read(void* out, sf_count_t count, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  const auto size = static_cast<sf_count_t>(file->bytes.size());
  const sf_count_t n = std::clamp<sf_count_t>(count, 0, size - file->pos);
  if (n > 0) std::copy_n(file->bytes.data() + file->pos, n, static_cast<char*>(out));
  file->pos += n;
  return n;
}

sf_count_t vio_write(const void*, sf_count_t, void*) { return 0; }

sf_count_t vio_tell(void* user) { return static_cast<MemoryFile*>(user)->pos; }

SF_VIRTUAL_IO memory_io() {
  SF_VIRTUAL_IO io{};
  io.get_filelen = vio_length;
  io.seek = vio_seek;
  io.read = vio_read;
  io.write = vio_write;
  io.tell = vio_tell;
  return io;
}

struct SndfileCloser {
  void operator()(SNDFILE* file) const { sf_close(file); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

struct SrcDeleter {
  void operator()(SRC_STATE* state) const { src_delete(state); }
};

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", seconds);
  return text;
}

// An open file and what its header says; `error` set when it cannot be used.
struct Opened {
  SndfilePtr file;
  AudioInfo info;
  std::optional<AudioError> error;
};

// REQUIRES: `memory` outlives the returned handle.
Opened open_audio(MemoryFile& memory, double max_seconds) {
  Opened opened;
  if (memory.bytes.empty()) {
    opened.error = AudioError{"the audio file is empty"};
    return opened;
  }
  if (!ogg_vorbis_headers_ok(memory.bytes)) {  // never to libsndfile, which would leak (ogg_vorbis_check.h)
    opened.error = AudioError{"not a readable WAV, FLAC or OGG audio file (OGG Vorbis: its stream headers are "
                              "truncated or corrupt)"};
    return opened;
  }
  SF_VIRTUAL_IO io = memory_io();
  SF_INFO sf{};
  {
    // sf_strerror(nullptr) reads libsndfile's one global error: keep opening and
    // reading it together. Opening parses headers only, so the lock is short.
    static std::mutex open_mutex;
    std::lock_guard lock(open_mutex);
    opened.file.reset(sf_open_virtual(&io, SFM_READ, &sf, &memory));
    if (!opened.file) {
      opened.error = AudioError{std::string("not a readable WAV, FLAC or OGG audio file (libsndfile: ") + sf_strerror(nullptr) + ")"};
      return opened;
    }
  }
  const int major = sf.format & SF_FORMAT_TYPEMASK;
  switch (major) {
    case SF_FORMAT_WAV:
    case SF_FORMAT_WAVEX:
    case SF_FORMAT_RF64: opened.info.format = AudioFormat::kWav; break;
    case SF_FORMAT_FLAC: opened.info.format = AudioFormat::kFlac; break;
    case SF_FORMAT_OGG: opened.info.format = AudioFormat::kOgg; break;
    default: {
      SF_FORMAT_INFO format{};
      format.format = major;
      const bool named = sf_command(nullptr, SFC_GET_FORMAT_INFO, &format, sizeof format) == 0 && format.name;
      opened.error = AudioError{"unsupported audio container " + std::string(named ? format.name : "(unknown)") +
                                " (accepted: WAV, FLAC, OGG)"};
      return opened;
    }
  }
  opened.info.channels = sf.channels;
  opened.info.sample_rate = sf.samplerate;
  opened.info.frames = sf.frames;
  if (sf.channels < 1) {
    opened.error = AudioError{"the audio has no channels"};
  } else if (sf.samplerate < 1000 || sf.samplerate > 768000) {
    opened.error = AudioError{"the audio's sample rate " + std::to_string(sf.samplerate) +
                              " Hz is outside 1000..768000 Hz"};
  } else if (sf.frames <= 0) {
    opened.error = AudioError{"the audio has no samples"};
  } else if (sf.frames / 10000 > static_cast<sf_count_t>(memory.bytes.size())) {
    // No codec packs 10,000 samples into a byte: a truncated OGG's length reads so.
    opened.error = AudioError{"the " + std::string(audio_format_name(opened.info.format)) +
                              " file is truncated or corrupt (its header claims " +
                              seconds_text(opened.info.duration_s()) + " s of audio in " +
                              std::to_string(memory.bytes.size()) + " bytes)"};
  } else if (opened.info.duration_s() > max_seconds) {
    opened.error = AudioError{"the audio is " + seconds_text(opened.info.duration_s()) + " s long, above the limit of " +
                                  seconds_text(max_seconds) + " s",
                              true};
  }
  return opened;
}

}  // namespace

std::string_view audio_format_name(AudioFormat format) {
  switch (format) {
    case AudioFormat::kWav: return "WAV";
    case AudioFormat::kFlac: return "FLAC";
    case AudioFormat::kOgg: return "OGG";
  }
  return "?";
}

std::variant<AudioInfo, AudioError> probe_audio(std::string_view bytes, double max_seconds) {
  MemoryFile memory{bytes};
  Opened opened = open_audio(memory, max_seconds);
  if (opened.error) return std::move(*opened.error);
  return opened.info;
}

namespace {

// Turns mono frames at `ratio` times their rate into 16 kHz frames appended to
// `out`; with no resampler (ratio 1) it copies them.
class Resampler {
 public:
  Resampler(double ratio, std::vector<float>& out) : ratio_(ratio), out_(out) {}

  // Starts libsamplerate when the rate differs; the error, or nullopt.
  std::optional<AudioError> start(bool needed, std::size_t block_frames) {
    if (!needed) return std::nullopt;
    int error = 0;
    state_.reset(src_new(SRC_SINC_MEDIUM_QUALITY, 1, &error));
    if (!state_) return AudioError{std::string("cannot start the resampler: ") + src_strerror(error)};
    buffer_.resize(static_cast<std::size_t>(static_cast<double>(block_frames) * ratio_) + 64);
    return std::nullopt;
  }

  // Feeds `n` mono frames; `end` drains the resampler.
  std::optional<AudioError> feed(const float* in, long n, bool end) {
    if (!state_) {
      out_.insert(out_.end(), in, in + n);
      return std::nullopt;
    }
    SRC_DATA data{};
    data.src_ratio = ratio_;
    data.end_of_input = end ? 1 : 0;
    for (;;) {
      data.data_in = in;
      data.input_frames = n;
      data.data_out = buffer_.data();
      data.output_frames = static_cast<long>(buffer_.size());
      if (const int error = src_process(state_.get(), &data)) {
        return AudioError{std::string("resampling failed: ") + src_strerror(error)};
      }
      out_.insert(out_.end(), buffer_.data(), buffer_.data() + data.output_frames_gen);
      in += data.input_frames_used;
      n -= data.input_frames_used;
      if (n == 0 && (!end || data.output_frames_gen == 0)) return std::nullopt;
      if (data.input_frames_used == 0 && data.output_frames_gen == 0) return std::nullopt;  // nothing more to come
    }
  }

 private:
  double ratio_;
  std::vector<float>& out_;
  std::unique_ptr<SRC_STATE, SrcDeleter> state_;
  std::vector<float> buffer_;
};

// The average of each frame's channels.
void downmix(const std::vector<float>& interleaved, sf_count_t frames, int channels, std::vector<float>& mono) {
  for (sf_count_t i = 0; i < frames; ++i) {
    float sum = 0;
    for (int c = 0; c < channels; ++c) sum += interleaved[static_cast<std::size_t>(i * channels + c)];
    mono[static_cast<std::size_t>(i)] = sum / static_cast<float>(channels);
  }
}

}  // namespace

std::variant<std::vector<float>, AudioError> decode_audio_16k_mono(std::string_view bytes, double max_seconds) {
  MemoryFile memory{bytes};
  Opened opened = open_audio(memory, max_seconds);
  if (opened.error) return std::move(*opened.error);
  const AudioInfo& info = opened.info;
  const double ratio = static_cast<double>(kSpeechSampleRate) / info.sample_rate;
  const auto limit = static_cast<std::size_t>(max_seconds * kSpeechSampleRate) + 1024;
  constexpr sf_count_t kBlock = 4096;  // frames read at a time

  std::vector<float> out;
  out.reserve(std::min(limit, static_cast<std::size_t>(static_cast<double>(info.frames) * ratio) + 64));
  Resampler resampler(ratio, out);
  if (auto error = resampler.start(info.sample_rate != kSpeechSampleRate, kBlock)) return std::move(*error);
  std::vector<float> interleaved(static_cast<std::size_t>(kBlock) * info.channels);
  std::vector<float> mono(kBlock);
  std::int64_t read_frames = 0;
  for (;;) {
    const sf_count_t got = sf_readf_float(opened.file.get(), interleaved.data(), kBlock);
    if (got <= 0) break;
    downmix(interleaved, got, info.channels, mono);
    read_frames += got;
    if (auto error = resampler.feed(mono.data(), static_cast<long>(got), false)) return std::move(*error);
    if (out.size() > limit) {
      return AudioError{"the audio is longer than the limit of " + seconds_text(max_seconds) + " s", true};
    }
    if (got < kBlock) break;
  }
  if (sf_error(opened.file.get()) != SF_ERR_NO_ERROR) {
    return AudioError{"the audio data cannot be decoded after " +
                      seconds_text(static_cast<double>(read_frames) / info.sample_rate) +
                      " s (libsndfile: " + sf_strerror(opened.file.get()) + ")"};
  }
  if (read_frames == 0) return AudioError{"the audio data cannot be decoded: no sample could be read"};
  if (auto error = resampler.feed(mono.data(), 0, true)) return std::move(*error);
  return out;
}

}  // namespace aipool::media
