// File: tts_espeak.h
// builtin/espeak: text-to-speech with libespeak-ng (spec/models.md MODEL-20..MODEL-22),
// Debian's libespeak-ng1 and espeak-ng-data. No model file, no torch.
//
// The request is the job's JSON (WIRE-4): `text` (required, 1 to kMaxCharacters UTF-8
// characters, read as plain text: no SSML, no phoneme input) and `description`
// (optional; its words pick the language, the voice variant, the speed and the pitch,
// tts_voice.h). The answer is the result file `audio.wav` (`audio/wav`, 16-bit mono
// PCM at espeak-ng's sample rate) with {"audio":{"url":"audio.wav"}}. Bad requests fail
// with `invalid request: ...`; speech longer than kMaxSeconds is stopped and fails.
//
// libespeak-ng keeps its state in globals: it is not thread-safe. It is loaded once
// per process (dlopen; it is never linked into the process), initialised in
// synchronous mode with a callback that collects the samples, and kept until the
// process ends: it frees its buffers only when terminated, after which it cannot be
// initialised again, so loading it per job leaked several KiB a job. One synthesis
// runs at a time in the process, behind one mutex. A synthesis leaves state behind
// (the waveform generator's phase and flutter), so the same request gives the same
// words, voice, speed and length, but not always the same bytes (MODEL-20).
//
// Contract: thread-safe; jobs run one at a time, in the calling thread of execute(),
// which calls `done` before it returns (others wait on the mutex). create() loads the
// library (the first time) to check it, read the sample rate and list the languages;
// when the library or its data is missing it returns nullptr and an error naming the
// Debian package. espeak-ng sets the process's LC_CTYPE to C.UTF-8; it is put back
// after each call. It also seeds the C library's rand() (srand) before each
// synthesis, since its breath noise draws from it.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "exec/tts_voice.h"
#include "seams/executor.h"

namespace aipool::exec {

class EspeakExecutor final : public Executor {
 public:
  static constexpr std::string_view kModel = "builtin/espeak";
  static constexpr std::size_t kMaxCharacters = 10000;  // as /text-to-speech allows (API-2)
  static constexpr int kMaxSeconds = 600;               // the longest speech made

  struct Options {
    std::string library;    // the library to load; "": libespeak-ng's soname (libespeak-ng.so.1)
    std::string data_path;  // the folder holding espeak-ng-data; "": espeak-ng's default
    int max_seconds = kMaxSeconds;  // longer speech fails the job (tests lower it)
  };

  // Checks the library and its data (see above); nullptr with `error` set when either
  // cannot be loaded.
  static std::unique_ptr<EspeakExecutor> create(const Options& options, std::string& error);

  // builtin/espeak on text-to-speech only.
  bool supports(const Key& key) const override;
  void execute(const ExecRequest& request, std::function<void(ExecResult)> done) override;
  ExecResult run(const ExecRequest& request);

  int sample_rate() const { return sample_rate_; }
  // Whether an installed voice speaks the language `code` (lower case, e.g. "fr", "en-us").
  bool has_language(std::string_view code) const;
  // Whether espeak-ng has the voice variant `name` (lower case, e.g. "klatt2", "f3").
  bool has_variant(std::string_view name) const;
  // The voice `description` picks (MODEL-21), with this machine's languages.
  SpeechVoice voice_for(std::string_view description) const;

 private:
  explicit EspeakExecutor(Options options) : options_(std::move(options)) {}
  // The samples of `text` spoken by `voice`, or the job's error.
  std::variant<std::vector<short>, std::string> synthesize(const std::string& text, const SpeechVoice& voice);

  Options options_;
  int sample_rate_ = 0;
  std::map<std::string, std::string, std::less<>> voices_;    // language code -> voice identifier ("roa/fr")
  std::map<std::string, std::string, std::less<>> variants_;  // lower-case name -> variant file ("Alex")
};

}  // namespace aipool::exec
