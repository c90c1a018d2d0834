// File: diagnostic_executor.h
// The worker's diagnostic engine (not a model): a small deterministic executor that
// ships in every worker, so that the whole path (orchestrator, worker, result upload)
// can be checked, tested, benchmarked and demonstrated without a GPU or model weights.
// Its model ids keep the prefix `test/` (public names). It serves only the model ids
// below, on every pipeline:
//
//  test/echo   answers at once with a response derived from the input:
//              - text-to-image, image-to-image, upscale: `num_images_per_prompt`
//                (default 1, at most 16) output files, each holding the input image
//                bytes (image-to-image, upscale: content type sniffed from the bytes:
//                image/png, image/jpeg, image/webp, image/gif, else
//                application/octet-stream) or the prompt text (text-to-image:
//                text/plain); file names `image-<i>.<ext>`; response JSON
//                {"images":[{"url":"image-0.png","seed":<seed or 0>,"nsfw":false},...]}
//                (so the worker posts it in the binary form, RES-3)
//              - image-to-text: {"text":"echo: <prompt> (<n> image bytes)"}
//              - audio-to-text: {"text":"echo: <n> audio bytes",
//                               "chunks":[{"timestamp":[0,0],"text":"echo"}]}
//                (no files: the JSON form, RES-2)
//              - llm: the last message's content, word by word (spec/llm.md LLM-7,
//                diagnostic_llm.h), streamed when the job is; `sleep_ms` apart
//              - text-to-speech: `audio.wav`, silence of 10 ms per byte of `text`,
//                {"audio":{"url":"audio.wav"}}
//              With `output_bytes` (0..256 MiB), for outputs of a given size (benchmarks,
//              and tests of the worker's result limit, RES-11): each image output file
//              holds exactly that many bytes (its content repeated; the binary form);
//              image-to-text's and audio-to-text's "text" is that many bytes of `x`
//              (the JSON form, where base64 makes the post about 4/3 of it).
//  test/sleep  sleeps `sleep_ms` from the request (integer, default 100, 0..60000),
//              then answers as test/echo.
//  test/fail   always fails with the error `test/fail: failure requested`.
//
// The request is the job's JSON (WIRE-4): the pipeline's fields, `model_id`
// included, file inputs base64-encoded under `image` (image-to-image, upscale,
// image-to-text) or `audio` (audio-to-text). A request that is not a JSON object, or
// whose fields have the wrong type or a value out of range, fails with an error that
// says which field and what is wrong, e.g. `invalid request: image is not valid base64`.
//
// Contract: thread-safe; keeps no state between jobs. execute() does the work in the
// calling thread (test/sleep blocks it) and calls `done` exactly once before it
// returns; the worker calls it from its job pool (src/net/worker_node.h), which
// accepts a `done` that runs before execute() returns.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "seams/executor.h"

namespace aipool::exec {

class DiagnosticExecutor final : public Executor {
 public:
  // The model ids served, on every pipeline.
  static constexpr std::string_view kEcho = "test/echo";
  static constexpr std::string_view kSleep = "test/sleep";
  static constexpr std::string_view kFail = "test/fail";
  static constexpr std::string_view kFailError = "test/fail: failure requested";
  static constexpr int kMaxSleepMs = 60000;
  static constexpr int kDefaultSleepMs = 100;
  static constexpr int kMaxImages = 16;
  static constexpr std::int64_t kMaxOutputBytes = std::int64_t{256} << 20;

  bool supports(const Key& key) const override;
  void execute(const ExecRequest& request, std::function<void(ExecResult)> done) override;

  // The outcome of `request` without sleeping (test/sleep's delay is not applied).
  static ExecResult run(const ExecRequest& request);
};

}  // namespace aipool::exec
