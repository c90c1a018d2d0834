// File: torchscript.h
// Runs a TorchScript module (torch.jit.save, or torch::jit::Module::save) as the model
// of one aiModels entry: the engine model `torchscript`, with the entry field `file`
// naming the module (spec/models.md MODEL-12..MODEL-18).
//
// Loading: once, under a lock: at start for a warm entry (load()), else at the first
// job. A failed load is not retried: every job then fails with the load's error.
// Device: each GPU of `gpu_ids` when libtorch has CUDA (one copy of the module per GPU,
// jobs round robin), else the CPU with libtorch's threads set to the cores available.
//
// Calling convention, per pipeline (MODEL-14..MODEL-17):
//   image-to-image, upscale: forward(image: Tensor, prompt: str, seed: int,
//                                    params: Dict[str, float]) -> Tensor
//   text-to-image:           forward(prompt: str, seed: int, width: int, height: int,
//                                    params: Dict[str, float]) -> Tensor
//   image-to-text:           forward(image: Tensor, prompt: str) -> str
//   audio-to-text:           forward(audio: Tensor) -> str
// Images are float32 RGB [1,3,H,W] in [0,1]; audio is float32 mono [T] at 16 kHz.
//
// Contract: thread-safe; jobs run concurrently on the one loaded module (inference
// mode). execute() runs the job in the calling thread and calls `done` exactly once
// before it returns. This header includes no torch header.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "exec/job_request.h"
#include "media/image_codec.h"
#include "seams/executor.h"

namespace aipool::exec {

// Decodes an audio file to mono float samples at 16 kHz in [-1, 1], or says why not
// (MODEL-17). Supplied by the worker's audio decoder; thread-safe.
using AudioDecoder = std::function<std::variant<std::vector<float>, std::string>(std::string_view bytes)>;

class TorchScriptExecutor final : public Executor {
 public:
  static constexpr std::string_view kEngine = "torchscript";
  static constexpr int kAudioSampleRate = 16000;

  struct Options {
    Pipeline pipeline = Pipeline::kImageToImage;
    std::string file;                  // the module's path (the caller resolves -aiModelsDir)
    std::vector<std::string> gpu_ids;  // -nvidia ids; empty: CPU
    int cpu_threads = 0;               // 0: the cores available (MODEL-13)
    ImageLimits limits;
    media::PngOptions png;
    AudioDecoder audio_decoder;        // audio-to-text only; empty: such jobs fail
  };

  explicit TorchScriptExecutor(Options options);
  ~TorchScriptExecutor() override;
  TorchScriptExecutor(const TorchScriptExecutor&) = delete;
  TorchScriptExecutor& operator=(const TorchScriptExecutor&) = delete;

  // Loads the module if no load was tried yet; returns the load's error ("" when
  // loaded). Thread-safe; the first call does the work.
  std::string load();
  bool loaded() const;
  // Where the module runs: "cpu", or "cuda:0,cuda:1".
  std::string device() const;

  // The engine model `torchscript` on this executor's pipeline.
  bool supports(const Key& key) const override;
  void execute(const ExecRequest& request, std::function<void(ExecResult)> done) override;
  ExecResult run(const ExecRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aipool::exec
