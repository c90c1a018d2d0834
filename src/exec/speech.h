// File: speech.h
// audio-to-text with PocketSphinx (spec/speech_ocr.md ASR-1..ASR-8): engine model
// `pocketsphinx/en-us`, the US English acoustic model, language model and dictionary
// of the Debian package pocketsphinx-en-us (/usr/share/pocketsphinx/model/en-us).
// Debian 12 ships PocketSphinx 5prealpha, whose API is cmd_ln_t + ps_decoder_t.
//
// The request is the job's JSON (WIRE-4): `audio` base64 (required; WAV, FLAC or OGG,
// decoded once to 16 kHz mono by src/media/audio_codec.h), `return_timestamps`
// ("true" by default, "false", "word" or "sentence"; JSON true/false also taken),
// `model_id`; `metadata` and other fields are ignored. The work:
//  1. split the audio into speech regions at silences (split_speech(), ASR-5);
//  2. decode each region as one utterance, silence removal off so that frame times
//     are exact (10 ms frames), and keep its words without fillers (<s>, </s>,
//     <sil>, [NOISE]) and without the "(2)" of alternate pronunciations (ASR-6);
//  3. answer {"text": words joined by one space, "chunks": [...]} where chunks are
//     per `return_timestamps` (ASR-7): "word" one per word, [start, end] in seconds;
//     "true" and "sentence" one per run of words without a pause of kSentenceGap or
//     more; "false" none.
// Audio that cannot be decoded fails with `invalid request: audio: <why>`.
//
// Contract: thread-safe. Owns `instances` decoders (a ps_decoder_t is not
// thread-safe; each loads the model once, in create()); a job takes a free decoder
// for its duration and waits for one when all are busy (size `instances` to the sum
// of the capacities the worker routes here). execute() runs the job in the calling
// thread and calls `done` before it returns.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "seams/executor.h"

namespace aipool::exec {

// One recognised word, times in seconds from the start of the audio.
struct SpeechWord {
  std::string text;
  double start = 0;
  double end = 0;
  std::size_t utterance = 0;  // the index of the region it was decoded in
};

// A stretch of the audio to decode as one utterance, in 16 kHz samples [begin, end).
struct SpeechRegion {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// ASR-5: the regions of `samples` (16 kHz mono) to decode. A 10 ms frame is loud when
// its RMS is at least kSilenceDb below the loudest frame's and above kFloorRms; loud
// frames closer than kSentenceGap join one region; each region is widened by kPad on
// both sides (within the audio); a region longer than kMaxRegionSeconds is cut at its
// quietest frame between half and all of that length. No loud frame: no region.
std::vector<SpeechRegion> split_speech(const std::vector<float>& samples);

class SpeechExecutor final : public Executor {
 public:
  static constexpr std::string_view kModel = "pocketsphinx/en-us";
  static constexpr std::string_view kDefaultModelDir = "/usr/share/pocketsphinx/model/en-us";
  static constexpr double kSentenceGap = 0.5;        // seconds of pause that end a sentence chunk
  static constexpr double kSilenceDb = 35.0;         // below the loudest frame: silence
  static constexpr double kFloorRms = 0.001;         // about -60 dBFS: always silence
  static constexpr double kPad = 0.25;               // seconds kept around each region
  static constexpr double kMaxRegionSeconds = 30.0;  // longest utterance decoded at once

  struct Options {
    // Holds en-us/ (acoustic model), en-us.lm.bin and cmudict-en-us.dict.
    std::string model_dir = std::string(kDefaultModelDir);
    int instances = 1;  // decoders, 1..64
  };

  // Loads the decoders; nullptr with `error` set when a model file is missing or fails to load.
  static std::unique_ptr<SpeechExecutor> create(const Options& options, std::string& error);

  ~SpeechExecutor() override;
  SpeechExecutor(const SpeechExecutor&) = delete;
  SpeechExecutor& operator=(const SpeechExecutor&) = delete;

  bool supports(const Key& key) const override;
  void execute(const ExecRequest& request, std::function<void(ExecResult)> done) override;
  // The outcome of `request` (what execute() hands to `done`).
  ExecResult run(const ExecRequest& request);
  // The words of 16 kHz mono `samples` (steps 1 and 2 above).
  std::vector<SpeechWord> recognise(const std::vector<float>& samples);

 private:
  struct Decoder;
  SpeechExecutor() = default;
  Decoder* acquire();
  void release(Decoder* decoder);

  std::vector<std::unique_ptr<Decoder>> decoders_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<Decoder*> free_;  // guarded by mutex_
};

}  // namespace aipool::exec
