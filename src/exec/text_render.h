// File: text_render.h
// builtin/text-render: a text-to-image model that needs no file and says what it does.
// It draws the prompt as text (FreeType, DejaVu Sans from Debian's fonts-dejavu-core)
// on a background drawn from the seed, at the requested width and height, one image
// per num_images_per_prompt with seed + k for image k (spec/models.md MODEL-11).
// Deterministic: the same request gives byte-identical PNGs (MODEL-4).
//
// Contract: thread-safe (each job opens its own FreeType face on the font bytes read
// at construction). execute() runs the job in the calling thread and calls `done`
// exactly once before it returns. No torch.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "exec/job_request.h"
#include "media/image_codec.h"
#include "seams/executor.h"

namespace aipool::exec {

class TextRenderExecutor final : public Executor {
 public:
  static constexpr std::string_view kModel = "builtin/text-render";
  static constexpr std::string_view kDefaultFontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
  // Characters of the prompt beyond this many are not drawn.
  static constexpr std::size_t kMaxCharacters = 4096;
  static constexpr int kMinFontPixels = 8;

  struct Options {
    std::string font_path;  // empty: kDefaultFontPath
    ImageLimits limits;
    media::PngOptions png;
  };

  // Reads the font and checks that FreeType can open it; otherwise throws
  // std::runtime_error naming the file (and the Debian package for the default).
  explicit TextRenderExecutor(Options options);

  // builtin/text-render on text-to-image.
  bool supports(const Key& key) const override;
  void execute(const ExecRequest& request, std::function<void(ExecResult)> done) override;
  ExecResult run(const ExecRequest& request) const;

  // One picture, without the PNG encoding: `prompt` drawn on the background of `seed`.
  media::Image render(std::string_view prompt, std::int64_t seed, std::uint32_t width, std::uint32_t height) const;

 private:
  Options options_;
  std::string font_;  // the font file's bytes
};

}  // namespace aipool::exec
