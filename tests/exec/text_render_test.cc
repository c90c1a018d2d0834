// Tests of src/exec/text_render.h, builtin/text-render (spec/models.md MODEL-11, with
// MODEL-1, MODEL-3, MODEL-4).
#include "exec/text_render.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "exec_test_support.h"

namespace aipool::exec {
namespace {

using exec_test::output;
using exec_test::request;
using exec_test::run;

ExecResult render(TextRenderExecutor& executor, const std::string& fields) {
  return run(executor, request(Pipeline::kTextToImage, "builtin/text-render", fields));
}

// The bounding box of the pixels that differ between two images of the same size.
struct Box {
  int count = 0;
  std::uint32_t x0 = ~0u, y0 = ~0u, x1 = 0, y1 = 0;
};
Box difference(const media::Image& a, const media::Image& b) {
  Box box;
  for (std::uint32_t y = 0; y < a.height; ++y) {
    for (std::uint32_t x = 0; x < a.width; ++x) {
      const std::size_t i = (std::size_t{y} * a.width + x) * 3;
      if (a.pixels[i] == b.pixels[i] && a.pixels[i + 1] == b.pixels[i + 1] && a.pixels[i + 2] == b.pixels[i + 2]) continue;
      ++box.count;
      box.x0 = std::min(box.x0, x);
      box.y0 = std::min(box.y0, y);
      box.x1 = std::max(box.x1, x);
      box.y1 = std::max(box.y1, y);
    }
  }
  return box;
}

// MODEL-1: builtin/text-render serves text-to-image only.
TEST(TextRender, ServesTextToImage) {
  TextRenderExecutor executor({});
  EXPECT_TRUE(executor.supports({Pipeline::kTextToImage, "builtin/text-render"}));
  EXPECT_FALSE(executor.supports({Pipeline::kImageToImage, "builtin/text-render"}));
  EXPECT_FALSE(executor.supports({Pipeline::kTextToImage, "builtin/other"}));
}

// MODEL-4, MODEL-11: the same request gives byte-identical PNGs; another seed gives another picture.
TEST(TextRender, DeterministicPerSeed) {
  TextRenderExecutor executor({});
  const std::string fields = R"("prompt":"a red fox","width":160,"height":96,"seed":5)";
  const ExecResult a = render(executor, fields);
  const ExecResult b = render(executor, fields);
  ASSERT_TRUE(a.ok) << a.error;
  EXPECT_EQ(*a.body.files[0].bytes, *b.body.files[0].bytes);
  const ExecResult c = render(executor, R"("prompt":"a red fox","width":160,"height":96,"seed":6)");
  EXPECT_NE(*a.body.files[0].bytes, *c.body.files[0].bytes);
  EXPECT_EQ(executor.render("x", 123, 50, 40).pixels, executor.render("x", 123, 50, 40).pixels);
}

// MODEL-11, MODEL-3: width, height and num_images_per_prompt are honoured; image k uses seed s + k.
TEST(TextRender, SizeCountAndSeeds) {
  TextRenderExecutor executor({});
  const ExecResult r = render(executor, R"("prompt":"hello","width":300,"height":200,"seed":10,"num_images_per_prompt":3)");
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.body.files.size(), 3u);
  EXPECT_EQ(*r.body.json,
            R"({"images":[{"url":"image-0.png","seed":10,"nsfw":false},{"url":"image-1.png","seed":11,"nsfw":false},)"
            R"({"url":"image-2.png","seed":12,"nsfw":false}]})");
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(output(r, k).width, 300u);
    EXPECT_EQ(output(r, k).height, 200u);
    EXPECT_EQ(output(r, k).pixels, executor.render("hello", 10 + static_cast<int>(k), 300, 200).pixels);
  }
  EXPECT_NE(output(r, 0).pixels, output(r, 1).pixels);
  // Without width and height: 1024 x 576; without seed: seed 0.
  const ExecResult d = render(executor, R"("prompt":"x")");
  EXPECT_EQ(output(d).width, 1024u);
  EXPECT_EQ(output(d).height, 576u);
  EXPECT_EQ(*d.body.json, R"({"images":[{"url":"image-0.png","seed":0,"nsfw":false}]})");
}

// MODEL-11: there is ink where the text is, centred inside the margins, in the contrasting colour; none without text.
TEST(TextRender, InkWhereTheTextIs) {
  TextRenderExecutor executor({});
  for (std::int64_t seed : {1, 2, 3, 4}) {
    const media::Image blank = executor.render("", seed, 400, 200);
    const media::Image text = executor.render("HELLO", seed, 400, 200);
    EXPECT_EQ(executor.render("   ", seed, 400, 200).pixels, blank.pixels);
    const Box box = difference(blank, text);
    ASSERT_GT(box.count, 200) << seed;
    const std::uint32_t margin = 200 / 16;
    EXPECT_GE(box.x0, margin);
    EXPECT_LT(box.x1, 400 - margin);
    EXPECT_GE(box.y0, margin);
    EXPECT_LT(box.y1, 200 - margin);
    // Centred: the left and right gaps differ by a few pixels at most.
    EXPECT_LE(std::abs(static_cast<int>(box.x0) - static_cast<int>(399 - box.x1)), 4) << seed;
    // The ink is black on a light background, white on a dark one.
    int darker = 0;
    int lighter = 0;
    for (std::size_t i = 0; i < text.pixels.size(); ++i) {
      darker += text.pixels[i] < blank.pixels[i];
      lighter += text.pixels[i] > blank.pixels[i];
    }
    const bool light_background = blank.pixels[0] >= 160;
    EXPECT_EQ(light_background ? lighter : darker, 0) << seed;
  }
}

// MODEL-11: a long prompt wraps onto several lines and shrinks to fit; a long word is broken.
TEST(TextRender, LongPromptsWrapAndShrink) {
  TextRenderExecutor executor({});
  const media::Image blank = executor.render("", 7, 256, 256);
  const Box one = difference(blank, executor.render("cat", 7, 256, 256));
  const std::string long_prompt =
      "a very long prompt about a small cat sitting on a warm windowsill in the afternoon sun, watching birds";
  const Box many = difference(blank, executor.render(long_prompt, 7, 256, 256));
  EXPECT_GT(many.y1 - many.y0, 2 * (one.y1 - one.y0));  // several lines
  EXPECT_GE(many.x0, 256u / 16);
  EXPECT_LT(many.x1, 256u - 256 / 16);
  const Box word = difference(blank, executor.render(std::string(200, 'W'), 7, 256, 256));
  EXPECT_GE(word.x0, 256u / 16);
  EXPECT_LT(word.x1, 256u - 256 / 16);
  EXPECT_GT(word.y1 - word.y0, one.y1 - one.y0);
  // Far more text than fits at 8 pixels still renders, within the image.
  EXPECT_TRUE(render(executor, R"("prompt":")" + std::string(5000, 'x') + R"(","width":64,"height":64)").ok);
}

// MODEL-1: a missing font stops the engine with a message naming the file.
TEST(TextRender, MissingFontIsAClearError) {
  TextRenderExecutor::Options options;
  options.font_path = "/nonexistent/font.ttf";
  try {
    TextRenderExecutor executor(options);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "builtin/text-render: cannot read the font /nonexistent/font.ttf");
  }
  options.font_path = "/etc/hostname";
  EXPECT_THROW(TextRenderExecutor{options}, std::runtime_error);
}

// MODEL-3: a size above the output limit fails with its size; a bad field is named.
TEST(TextRender, LimitsAndBadFields) {
  TextRenderExecutor::Options options;
  options.limits.max_output_pixels = 10000;
  TextRenderExecutor executor(options);
  ExecResult r = render(executor, R"("prompt":"p","width":200,"height":100)");
  EXPECT_EQ(r.error, "the output would be 200x100 = 20000 pixels, above this worker's limit of 10000");
  r = render(executor, R"("prompt":"p","width":"wide")");
  EXPECT_EQ(r.error, "invalid request: field 'width' must be an integer from 1 to 1048576 (got \"wide\")");
  r = render(executor, R"("prompt":"p","num_images_per_prompt":17)");
  EXPECT_EQ(r.error, "invalid request: field 'num_images_per_prompt' must be an integer from 1 to 16 (got 17)");
}

}  // namespace
}  // namespace aipool::exec
