#include "exec/speech.h"

// PocketSphinx 5prealpha (Debian 12) and its sphinxbase.
#include <sphinxbase/err.h>
#include <pocketsphinx.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <variant>

#include "codec/json_text.h"
#include "exec/speech_ocr_request.h"
#include "media/audio_codec.h"

namespace aipool::exec {

struct SpeechExecutor::Decoder {
  ps_decoder_t* ps = nullptr;
  int frame_rate = 100;  // frames per second (-frate)
  ~Decoder() {
    if (ps != nullptr) ps_free(ps);
  }
};

namespace {

constexpr int kRate = media::kSpeechSampleRate;
constexpr std::size_t kFrame = kRate / 100;  // 10 ms

// sphinxbase logs through one process-wide callback: keep its errors (the reason a
// model fails to load) for the thread that caused them, drop the rest.
thread_local std::string sphinx_error;

void sphinx_log(void*, err_lvl_t level, const char* format, ...) {
  if (level < ERR_ERROR) return;
  char text[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  std::string line(text);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  if (!line.empty()) sphinx_error = line;
}

// "word(2)" -> "word"; fillers and sentence marks -> "".
std::string clean_word(std::string_view word) {
  if (word.empty() || word.front() == '<' || word.front() == '[' || word.substr(0, 2) == "++") return "";
  const std::size_t paren = word.find('(');
  if (paren != std::string_view::npos && paren > 0 && word.back() == ')') word = word.substr(0, paren);
  return std::string(word);
}

void append_seconds(std::string& json, double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", seconds);
  json += text;
}

void append_chunk(std::string& json, double start, double end, const std::string& text) {
  if (json.back() != '[') json += ',';
  json += "{\"timestamp\":[";
  append_seconds(json, start);
  json += ',';
  append_seconds(json, end);
  json += "],\"text\":";
  codec::append_json_string(json, text);
  json += '}';
}

}  // namespace

std::vector<SpeechRegion> split_speech(const std::vector<float>& samples) {
  std::vector<SpeechRegion> regions;
  const std::size_t frames = (samples.size() + kFrame - 1) / kFrame;
  std::vector<double> rms(frames);
  double peak = 0;
  for (std::size_t f = 0; f < frames; ++f) {
    const std::size_t begin = f * kFrame;
    const std::size_t end = std::min(samples.size(), begin + kFrame);
    double sum = 0;
    for (std::size_t i = begin; i < end; ++i) sum += static_cast<double>(samples[i]) * samples[i];
    rms[f] = std::sqrt(sum / static_cast<double>(end - begin));
    peak = std::max(peak, rms[f]);
  }
  if (peak < SpeechExecutor::kFloorRms) return regions;
  const double threshold = std::max(peak * std::pow(10.0, -SpeechExecutor::kSilenceDb / 20.0), SpeechExecutor::kFloorRms);
  const auto gap_frames = static_cast<std::size_t>(SpeechExecutor::kSentenceGap * 100);
  const auto pad = static_cast<std::size_t>(SpeechExecutor::kPad * kRate);
  const auto max_samples = static_cast<std::size_t>(SpeechExecutor::kMaxRegionSeconds * kRate);

  // Runs of loud frames, joined across pauses shorter than the gap.
  std::vector<std::pair<std::size_t, std::size_t>> runs;  // frames [first, last]
  for (std::size_t f = 0; f < frames; ++f) {
    if (rms[f] < threshold) continue;
    if (!runs.empty() && f - runs.back().second <= gap_frames) {
      runs.back().second = f;
    } else {
      runs.emplace_back(f, f);
    }
  }
  for (const auto& [first, last] : runs) {
    std::size_t begin = first * kFrame > pad ? first * kFrame - pad : 0;
    if (!regions.empty()) begin = std::max(begin, regions.back().end);
    const std::size_t end = std::min(samples.size(), (last + 1) * kFrame + pad);
    // Cut an over-long region at its quietest frame in [half, all] of the longest length.
    while (end - begin > max_samples) {
      const std::size_t from = (begin + max_samples / 2) / kFrame;
      const std::size_t to = (begin + max_samples) / kFrame;
      std::size_t cut = from;
      for (std::size_t f = from; f < to; ++f) {
        if (rms[f] < rms[cut]) cut = f;
      }
      regions.push_back({begin, cut * kFrame});
      begin = cut * kFrame;
    }
    regions.push_back({begin, end});
  }
  return regions;
}

std::unique_ptr<SpeechExecutor> SpeechExecutor::create(const Options& options, std::string& error) {
  if (options.instances < 1 || options.instances > 64) {
    error = "pocketsphinx/en-us: instances must be from 1 to 64 (got " + std::to_string(options.instances) + ")";
    return nullptr;
  }
  namespace fs = std::filesystem;
  const fs::path dir(options.model_dir);
  const fs::path hmm = dir / "en-us";
  const fs::path lm = dir / "en-us.lm.bin";
  const fs::path dict = dir / "cmudict-en-us.dict";
  // PocketSphinx exits the process on some missing files: check them all first.
  for (const fs::path& file : {hmm / "mdef", hmm / "means", hmm / "variances", hmm / "transition_matrices",
                               hmm / "noisedict", lm, dict}) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
      error = "pocketsphinx/en-us: model file " + file.string() +
              " not found (install the Debian packages pocketsphinx-en-us and libpocketsphinx-dev)";
      return nullptr;
    }
  }
  static std::once_flag quiet;
  std::call_once(quiet, [] {
    err_set_logfp(nullptr);                   // no configuration dump on stderr
    err_set_callback(sphinx_log, nullptr);    // errors kept for the message below
  });

  std::unique_ptr<SpeechExecutor> executor(new SpeechExecutor());
  for (int i = 0; i < options.instances; ++i) {
    sphinx_error.clear();
    // Silence removal stays off: with it, frame numbers skip the removed silence and
    // word times drift (ASR-6); split_speech() leaves out the long silences instead.
    cmd_ln_t* config = cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", hmm.c_str(), "-lm", lm.c_str(), "-dict",
                                   dict.c_str(), "-remove_silence", "no", nullptr);
    if (config == nullptr) {
      error = "pocketsphinx/en-us: bad decoder configuration: " + sphinx_error;
      return nullptr;
    }
    auto decoder = std::make_unique<Decoder>();
    decoder->ps = ps_init(config);
    decoder->frame_rate = cmd_ln_int32_r(config, "-frate");
    cmd_ln_free_r(config);  // the decoder keeps its own reference
    if (decoder->ps == nullptr) {
      error = "pocketsphinx/en-us: the model in " + dir.string() + " failed to load: " + sphinx_error;
      return nullptr;
    }
    if (decoder->frame_rate <= 0) decoder->frame_rate = 100;
    executor->free_.push_back(decoder.get());
    executor->decoders_.push_back(std::move(decoder));
  }
  return executor;
}

SpeechExecutor::~SpeechExecutor() = default;

bool SpeechExecutor::supports(const Key& key) const {
  return key.pipeline == Pipeline::kAudioToText && key.model == kModel;
}

SpeechExecutor::Decoder* SpeechExecutor::acquire() {
  std::unique_lock lock(mutex_);
  freed_.wait(lock, [this] { return !free_.empty(); });
  Decoder* decoder = free_.back();
  free_.pop_back();
  return decoder;
}

void SpeechExecutor::release(Decoder* decoder) {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(decoder);
  }
  freed_.notify_one();
}

std::vector<SpeechWord> SpeechExecutor::recognise(const std::vector<float>& samples) {
  std::vector<SpeechWord> words;
  const std::vector<SpeechRegion> regions = split_speech(samples);
  if (regions.empty()) return words;
  std::vector<int16> pcm;
  struct Lease {  // the decoder goes back to the pool whatever happens
    SpeechExecutor* self;
    Decoder* decoder;
    ~Lease() { self->release(decoder); }
  } lease{this, acquire()};
  Decoder* decoder = lease.decoder;
  for (std::size_t r = 0; r < regions.size(); ++r) {
    const SpeechRegion& region = regions[r];
    pcm.resize(region.end - region.begin);
    for (std::size_t i = 0; i < pcm.size(); ++i) {
      const float v = std::clamp(samples[region.begin + i], -1.0f, 1.0f) * 32767.0f;
      pcm[i] = static_cast<int16>(std::lround(v));
    }
    const double offset = static_cast<double>(region.begin) / kRate;
    if (ps_start_utt(decoder->ps) < 0) continue;  // cannot happen: the decoder is idle
    ps_process_raw(decoder->ps, pcm.data(), pcm.size(), FALSE, TRUE);
    ps_end_utt(decoder->ps);
    for (ps_seg_t* seg = ps_seg_iter(decoder->ps); seg != nullptr; seg = ps_seg_next(seg)) {
      std::string word = clean_word(ps_seg_word(seg));
      if (word.empty()) continue;
      int start_frame = 0, end_frame = 0;
      ps_seg_frames(seg, &start_frame, &end_frame);
      const double start = offset + static_cast<double>(start_frame) / decoder->frame_rate;
      const double end = offset + static_cast<double>(end_frame + 1) / decoder->frame_rate;
      words.push_back({std::move(word), start, std::min(end, static_cast<double>(region.end) / kRate), r});
    }
  }
  return words;
}

ExecResult SpeechExecutor::run(const ExecRequest& request) {
  if (!supports(request.key)) {
    return exec_failure("pocketsphinx/en-us: " + key_name(request.key) + " is not served (only audio-to-text)");
  }
  std::variant<FileRequest, ExecResult> parsed = parse_file_request(request, "audio", {"return_timestamps"});
  if (auto* failed = std::get_if<ExecResult>(&parsed)) return std::move(*failed);
  const FileRequest& in = std::get<FileRequest>(parsed);
  const auto given = in.strings.find("return_timestamps");
  const std::string mode = given == in.strings.end() ? "true" : given->second;
  if (mode != "true" && mode != "false" && mode != "word" && mode != "sentence") {
    return exec_failure("invalid request: return_timestamps must be one of true, false, word, sentence");
  }
  std::variant<std::vector<float>, media::AudioError> audio = media::decode_audio_16k_mono(in.file);
  if (auto* error = std::get_if<media::AudioError>(&audio)) return exec_failure("invalid request: audio: " + error->message);
  const std::vector<SpeechWord> words = recognise(std::get<std::vector<float>>(audio));

  std::string text;
  for (const SpeechWord& w : words) text += (text.empty() ? "" : " ") + w.text;
  std::string json = "{\"text\":";
  codec::append_json_string(json, text);
  json += ",\"chunks\":[";
  if (mode == "word") {
    for (const SpeechWord& w : words) append_chunk(json, w.start, w.end, w.text);
  } else if (mode != "false") {
    std::size_t first = 0;
    for (std::size_t i = 1; i <= words.size(); ++i) {
      const bool ends = i == words.size() || words[i].utterance != words[i - 1].utterance ||
                        words[i].start - words[i - 1].end >= kSentenceGap;
      if (!ends) continue;
      std::string sentence;
      for (std::size_t k = first; k < i; ++k) sentence += (k == first ? "" : " ") + words[k].text;
      append_chunk(json, words[first].start, words[i - 1].end, sentence);
      first = i;
    }
  }
  json += "]}";
  ExecResult result;
  result.ok = true;
  result.body.json = std::make_shared<const std::string>(std::move(json));
  return result;
}

void SpeechExecutor::execute(const ExecRequest& request, std::function<void(ExecResult)> done) {
  ExecResult result;
  try {
    result = run(request);
  } catch (const std::exception& e) {  // e.g. out of memory: a failed job, not a dead worker
    result = exec_failure("pocketsphinx/en-us: " + std::string(e.what()));
  }
  done(std::move(result));
}

}  // namespace aipool::exec
