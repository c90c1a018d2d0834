// File: speech_ocr_engines.h
// The worker's factories for the real small models that Debian ships
// (spec/speech_ocr.md): Tesseract OCR for image-to-text and PocketSphinx for
// audio-to-text. Each loads its model once, here; a missing model gives nullptr and
// an error that names the Debian package to install.
//
//   engine model          pipeline        executor
//   tesseract/eng         image-to-text   OcrExecutor (src/exec/ocr.h)
//   pocketsphinx/en-us    audio-to-text   SpeechExecutor (src/exec/speech.h)
//
// `instances`: how many jobs the executor runs at once (engines loaded), 1..64: the
// sum of the capacities of the aiModels entries routed to that engine model.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "seams/executor.h"

namespace aipool::exec {

inline constexpr std::string_view kOcrEngineModel = "tesseract/eng";
inline constexpr std::string_view kSpeechEngineModel = "pocketsphinx/en-us";

// `max_pixels`: the largest image, width x height, read from its header (OCR-4).
std::unique_ptr<Executor> make_ocr_executor(int instances, std::uint64_t max_pixels, std::string& error);
std::unique_ptr<Executor> make_speech_executor(int instances, std::string& error);

// An audio file (WAV, FLAC, OGG) as 16 kHz mono floats in [-1, 1], or why not
// (src/media/audio_codec.h, ASR-3, ASR-4). Thread-safe; fits the torchscript
// executor's AudioDecoder (src/exec/torchscript.h): `options.audio_decoder = decode_audio_16k;`.
std::variant<std::vector<float>, std::string> decode_audio_16k(std::string_view bytes);

}  // namespace aipool::exec
