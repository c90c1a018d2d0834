// File: ocr.h
// image-to-text with Tesseract OCR (spec/speech_ocr.md OCR-1..OCR-5): engine model
// `tesseract/eng`, the English LSTM model of the Debian package tesseract-ocr-eng.
//
// The request is the job's JSON (WIRE-4): `image` base64 (required; PNG or JPEG,
// and whatever else Leptonica reads: BMP, TIFF, PNM, GIF, WebP), `model_id`. The
// `prompt` is ignored (OCR reads what is written, it takes no instruction). The
// response is {"text": "<the recognised text, lines joined by \n, trimmed>"}; an image
// without text gives {"text": ""}. A request whose image cannot be read, or has more
// than Options::max_pixels pixels (the worker's -maxPixels; default 4096 x 4096, the
// orchestrator's default limit), checked from the header before decoding, fails with a
// worker error saying why, e.g. `invalid request: image: not an image Leptonica can read`.
//
// Contract: thread-safe. Owns `instances` Tesseract engines (TessBaseAPI is not
// thread-safe), loaded once by create(); a job takes a free engine for its duration
// and waits for one when all are busy (the worker's SlotGate keeps the jobs at or below
// the entry's capacity, so size `instances` to that sum). execute() runs the job in the
// calling thread and calls `done` before it returns.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "media/image_codec.h"
#include "seams/executor.h"

namespace tesseract {
class TessBaseAPI;
}

namespace aipool::exec {

class OcrExecutor final : public Executor {
 public:
  static constexpr std::string_view kModel = "tesseract/eng";

  struct Options {
    // Where eng.traineddata lies; empty: the Debian location found by find_tessdata().
    std::string tessdata_dir;
    int instances = 1;  // engines, 1..64
    std::uint64_t max_pixels = media::kDefaultMaxPixels;  // largest image, width x height (OCR-4)
  };

  // Loads the engines; nullptr with `error` set when the model is missing or fails to load.
  static std::unique_ptr<OcrExecutor> create(const Options& options, std::string& error);
  // The first of the Debian tessdata folders (/usr/share/tesseract-ocr/5/tessdata,
  // .../4.00/tessdata, /usr/share/tessdata) that holds eng.traineddata; "" if none.
  static std::string find_tessdata();

  ~OcrExecutor() override;
  OcrExecutor(const OcrExecutor&) = delete;
  OcrExecutor& operator=(const OcrExecutor&) = delete;

  bool supports(const Key& key) const override;
  void execute(const ExecRequest& request, std::function<void(ExecResult)> done) override;
  // The outcome of `request` (what execute() hands to `done`).
  ExecResult run(const ExecRequest& request);

 private:
  explicit OcrExecutor(std::uint64_t max_pixels);
  tesseract::TessBaseAPI* acquire();
  void release(tesseract::TessBaseAPI* engine);

  std::uint64_t max_pixels_;
  std::vector<std::unique_ptr<tesseract::TessBaseAPI>> engines_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<tesseract::TessBaseAPI*> free_;  // guarded by mutex_
};

}  // namespace aipool::exec
