// File: speech_ocr_bench.cc
// aipool-bench-speech-ocr: the time of one image-to-text request on Tesseract
// (tesseract/eng, OCR-1..OCR-5) and of one audio-to-text request on PocketSphinx
// (pocketsphinx/en-us, ASR-1..ASR-8), through the executors' run() exactly as the
// worker calls them (request JSON in, base64 decode, media decode, model, response
// JSON out), each with a baseline measured in the same run:
//
//  ocr/request/<lines>     OcrExecutor::run on a PNG of <lines> lines of text drawn
//                          with Leptonica's bitmap font (16 pt, scaled x2).
//  ocr/decode_only/<lines> the baseline: Leptonica's pixReadMem of the same PNG, the
//                          part of a request that is not OCR.
//  asr/request/<name>      SpeechExecutor::run (return_timestamps "word") on speech
//                          from espeak-ng (en-us+klatt2, 150 words per minute), as a
//                          22.05 kHz WAV. Counter `x_realtime`: seconds of audio per
//                          second of wall time (above 1: faster than real time).
//  asr/decode_only/<name>  the baseline: decode_audio_16k_mono of the same WAV.
//
// Before the runs it prints what each model recognised, so that the speed can be read
// next to the accuracy. Needs the espeak-ng program (scripts/setup.sh). Single
// threaded: one request at a time on one engine. bench/README.md has the command and
// figures.
#include <allheaders.h>
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "codec/base64.h"
#include "exec/ocr.h"
#include "exec/speech.h"
#include "media/audio_codec.h"

namespace aipool {
namespace {

const std::vector<std::string> kOcrLines = {
    "The quick brown fox jumps over the lazy dog.",
    "Invoice 4711, due 2024-06-30: 1,234.56 EUR",
    "aipool brokers AI jobs to remote workers",
    "Tesseract reads what is written on the page",
    "HELLO WORLD 0123456789",
    "Pack my box with five dozen liquor jugs.",
    "Sphinx of black quartz, judge my vow.",
    "The five boxing wizards jump quickly.",
};

struct Speech {
  const char* name;
  const char* text;  // SSML
};
const Speech kSpeech[] = {
    {"two_sentences", R"(hello world. <break time="1s"/> the weather is nice today.)"},
    {"paragraph",
     "my name is john and i live in new york city. the weather is nice today. "
     "please call me tomorrow morning. we will meet again next week. "
     "turn on the kitchen lights. hello world, this is a test."},
};

std::string render_png(std::size_t lines) {
  L_BMF* font = bmfCreate(nullptr, 16);
  PIX* page = pixCreate(2000, 40 + 60 * static_cast<int>(lines), 8);
  pixSetAll(page);
  for (std::size_t i = 0; i < lines; ++i) {
    int width = 0, overflow = 0;
    pixSetTextline(page, font, kOcrLines[i % kOcrLines.size()].c_str(), 0, 40, 60 + 60 * static_cast<int>(i),
                   &width, &overflow);
  }
  PIX* big = pixScale(page, 2.0, 2.0);
  l_uint8* data = nullptr;
  size_t size = 0;
  pixWriteMem(&data, &size, big, IFF_PNG);
  std::string png(reinterpret_cast<const char*>(data), size);
  lept_free(data);
  pixDestroy(&big);
  pixDestroy(&page);
  bmfDestroy(&font);
  return png;
}

std::string speak(const std::string& ssml) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string stem = "aipool-bench-speech-" + std::to_string(::getpid());
  const auto txt = dir / (stem + ".txt");
  const auto wav = dir / (stem + ".wav");
  std::ofstream(txt) << ssml;
  const std::string command = "espeak-ng -m -v en-us+klatt2 -s 150 -g 10 -w " + wav.string() + " -f " + txt.string();
  if (std::system(command.c_str()) != 0) {
    std::fprintf(stderr, "aipool-bench-speech-ocr: `%s` failed; install espeak-ng (scripts/setup.sh)\n",
                 command.c_str());
    std::exit(1);
  }
  std::ifstream in(wav, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(txt);
  std::filesystem::remove(wav);
  return bytes;
}

ExecRequest request(Pipeline pipeline, const std::string& model, const char* field, const std::string& file,
                    const std::string& extra) {
  ExecRequest r;
  r.key = Key{pipeline, model};
  r.request_json = std::make_shared<const std::string>("{\"model_id\":\"" + model + "\",\"" + field + "\":\"" +
                                                       codec::base64_encode(file) + "\"" + extra + "}");
  return r;
}

exec::OcrExecutor* ocr() {
  static std::unique_ptr<exec::OcrExecutor> executor = [] {
    std::string error;
    auto made = exec::OcrExecutor::create({}, error);
    if (!made) {
      std::fprintf(stderr, "aipool-bench-speech-ocr: %s\n", error.c_str());
      std::exit(1);
    }
    return made;
  }();
  return executor.get();
}

exec::SpeechExecutor* asr() {
  static std::unique_ptr<exec::SpeechExecutor> executor = [] {
    std::string error;
    auto made = exec::SpeechExecutor::create({}, error);
    if (!made) {
      std::fprintf(stderr, "aipool-bench-speech-ocr: %s\n", error.c_str());
      std::exit(1);
    }
    return made;
  }();
  return executor.get();
}

struct AudioCase {
  std::string wav;
  double seconds = 0;
};

const AudioCase& audio(std::size_t index) {
  static std::vector<AudioCase> cases = [] {
    std::vector<AudioCase> out;
    for (const Speech& s : kSpeech) {
      AudioCase c;
      c.wav = speak(s.text);
      const auto info = media::probe_audio(c.wav);
      c.seconds = std::get<media::AudioInfo>(info).duration_s();
      out.push_back(std::move(c));
    }
    return out;
  }();
  return cases[index];
}

void BM_OcrRequest(benchmark::State& state) {
  const std::string png = render_png(static_cast<std::size_t>(state.range(0)));
  const ExecRequest r = request(Pipeline::kImageToText, "tesseract/eng", "image", png, "");
  for (auto _ : state) {
    ExecResult result = ocr()->run(r);
    if (!result.ok) state.SkipWithError(result.error.c_str());
    benchmark::DoNotOptimize(result);
  }
  state.counters["png_bytes"] = static_cast<double>(png.size());
}

void BM_OcrDecodeOnly(benchmark::State& state) {
  const std::string png = render_png(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    PIX* pix = pixReadMem(reinterpret_cast<const l_uint8*>(png.data()), png.size());
    benchmark::DoNotOptimize(pix);
    pixDestroy(&pix);
  }
}

void BM_AsrRequest(benchmark::State& state) {
  const AudioCase& c = audio(static_cast<std::size_t>(state.range(0)));
  const ExecRequest r = request(Pipeline::kAudioToText, "pocketsphinx/en-us", "audio", c.wav,
                                ",\"return_timestamps\":\"word\"");
  for (auto _ : state) {
    ExecResult result = asr()->run(r);
    if (!result.ok) state.SkipWithError(result.error.c_str());
    benchmark::DoNotOptimize(result);
  }
  state.counters["audio_s"] = c.seconds;
  state.counters["x_realtime"] = benchmark::Counter(c.seconds, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_AsrDecodeOnly(benchmark::State& state) {
  const AudioCase& c = audio(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto samples = media::decode_audio_16k_mono(c.wav);
    benchmark::DoNotOptimize(samples);
  }
  state.counters["audio_s"] = c.seconds;
  state.counters["x_realtime"] = benchmark::Counter(c.seconds, benchmark::Counter::kIsIterationInvariantRate);
}

void print_recognised() {
  for (std::size_t lines : {2u, 8u}) {
    const ExecResult r = ocr()->run(request(Pipeline::kImageToText, "tesseract/eng", "image", render_png(lines), ""));
    std::fprintf(stderr, "ocr/%zu lines: %s\n", lines, r.ok ? r.body.json->c_str() : r.error.c_str());
  }
  for (std::size_t i = 0; i < std::size(kSpeech); ++i) {
    const ExecResult r = asr()->run(request(Pipeline::kAudioToText, "pocketsphinx/en-us", "audio", audio(i).wav,
                                            ",\"return_timestamps\":\"sentence\""));
    std::fprintf(stderr, "asr/%s (%.2f s): said \"%s\"\n  heard %s\n", kSpeech[i].name, audio(i).seconds,
                 kSpeech[i].text, r.ok ? r.body.json->c_str() : r.error.c_str());
  }
}

}  // namespace
}  // namespace aipool

BENCHMARK(aipool::BM_OcrRequest)->Name("ocr/request")->Arg(2)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(aipool::BM_OcrDecodeOnly)->Name("ocr/decode_only")->Arg(2)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(aipool::BM_AsrRequest)->Name("asr/request")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(aipool::BM_AsrDecodeOnly)->Name("asr/decode_only")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  aipool::print_recognised();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
