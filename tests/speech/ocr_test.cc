// Tests of image-to-text with Tesseract (src/exec/ocr.h): text drawn here with
// Leptonica's built-in bitmap font comes back as text.
#include "exec/ocr.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <allheaders.h>
#include <gtest/gtest.h>

#include <thread>

#include "codec/base64.h"
#include "exec/speech_ocr_engines.h"

namespace aipool::exec {
namespace {

const Key kKey{Pipeline::kImageToText, "tesseract/eng"};

enum class Encoding { kPng, kJpeg, kTransparentPng };

// `lines` of black text on white (Leptonica's 16 pt bitmap font, scaled x2), encoded.
std::string render(const std::vector<std::string>& lines, Encoding encoding = Encoding::kPng) {
  L_BMF* font = bmfCreate(nullptr, 16);
  EXPECT_NE(font, nullptr);
  PIX* page = pixCreate(1000, 40 + 60 * static_cast<int>(lines.size()), 8);
  pixSetAll(page);
  int baseline = 60;
  for (const std::string& line : lines) {
    int width = 0, overflow = 0;
    pixSetTextline(page, font, line.c_str(), 0x00000000, 40, baseline, &width, &overflow);
    EXPECT_EQ(overflow, 0) << line;
    baseline += 60;
  }
  PIX* big = pixScale(page, 2.0, 2.0);
  pixDestroy(&page);
  if (encoding == Encoding::kTransparentPng) {
    // Black everywhere; the text opaque, the background fully transparent.
    PIX* alpha = pixInvert(nullptr, big);
    PIX* rgba = pixCreate(pixGetWidth(big), pixGetHeight(big), 32);
    pixSetAllArbitrary(rgba, 0x00000000);
    pixSetRGBComponent(rgba, alpha, L_ALPHA_CHANNEL);
    pixSetSpp(rgba, 4);
    pixDestroy(&alpha);
    pixDestroy(&big);
    big = rgba;
  }
  l_uint8* data = nullptr;
  size_t size = 0;
  pixWriteMem(&data, &size, big, encoding == Encoding::kJpeg ? IFF_JFIF_JPEG : IFF_PNG);
  std::string bytes(reinterpret_cast<const char*>(data), size);
  lept_free(data);
  pixDestroy(&big);
  bmfDestroy(&font);
  return bytes;
}

ExecRequest request_for(const std::string& image, const std::string& extra = "") {
  ExecRequest request;
  request.key = kKey;
  request.request_json = std::make_shared<const std::string>(
      R"({"model_id":"tesseract/eng","image":")" + codec::base64_encode(image) + "\"" + extra + "}");
  return request;
}

std::string text_of(const ExecResult& result) {
  EXPECT_TRUE(result.ok) << result.error;
  if (!result.ok) return "";
  Poco::JSON::Parser parser;
  auto object = parser.parse(*result.body.json).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(object->size(), 1u) << *result.body.json;
  EXPECT_TRUE(result.body.files.empty());
  return object->getValue<std::string>("text");
}

class SpeechOcr : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    OcrExecutor::Options options;
    options.instances = 2;
    executor_ = OcrExecutor::create(options, error).release();
    ASSERT_NE(executor_, nullptr) << error;
  }
  static void TearDownTestSuite() {
    delete executor_;
    executor_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(executor_, nullptr); }
  static OcrExecutor* executor_;
};
OcrExecutor* SpeechOcr::executor_ = nullptr;

// OCR-2, OCR-3: the words of a rendered PNG come back as {"text"}, lines joined by a newline, trimmed.
TEST_F(SpeechOcr, ReadsRenderedText) {
  const std::string text = text_of(executor_->run(request_for(render({"The quick brown fox", "HELLO WORLD 2024"}))));
  EXPECT_EQ(text, "The quick brown fox\nHELLO WORLD 2024");
}

// OCR-3: JPEG and a PNG whose text is drawn on a transparent background are read too.
TEST_F(SpeechOcr, ReadsJpegAndTransparentPng) {
  EXPECT_EQ(text_of(executor_->run(request_for(render({"Invoice number 4711"}, Encoding::kJpeg)))),
            "Invoice number 4711");
  EXPECT_EQ(text_of(executor_->run(request_for(render({"Transparent text"}, Encoding::kTransparentPng)))),
            "Transparent text");
}

// OCR-2: the prompt is ignored, and an image without text gives "".
TEST_F(SpeechOcr, PromptIsIgnoredAndBlankGivesEmptyText) {
  const std::string image = render({"Ignore the prompt"});
  EXPECT_EQ(text_of(executor_->run(request_for(image, R"(,"prompt":"translate this to French")"))),
            "Ignore the prompt");
  EXPECT_EQ(text_of(executor_->run(request_for(render({}), R"(,"prompt":"")"))), "");
}

// OCR-4: unreadable, oversized or missing images fail with a worker error that says why.
TEST_F(SpeechOcr, BadImagesFailWithTheReason) {
  ExecResult r = executor_->run(request_for("not an image at all"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "invalid request: image: not an image Leptonica can read (PNG, JPEG, BMP, TIFF, PNM, GIF, WebP)");
  const std::string png = render({"truncated"});
  r = executor_->run(request_for(png.substr(0, png.size() / 2)));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.rfind("invalid request: image: ", 0), 0u) << r.error;
  PIX* huge = pixCreate(5000, 3500, 1);
  l_uint8* data = nullptr;
  size_t size = 0;
  pixWriteMem(&data, &size, huge, IFF_PNG);
  const std::string huge_png(reinterpret_cast<const char*>(data), size);
  lept_free(data);
  pixDestroy(&huge);
  r = executor_->run(request_for(huge_png));
  EXPECT_EQ(r.error, "invalid request: image: the image is 5000x3500 = 17500000 pixels, above the limit of 16777216 pixels");
  ExecRequest bad = request_for("x");
  bad.request_json = std::make_shared<const std::string>(R"({"model_id":"tesseract/eng","image":"!!"})");
  EXPECT_EQ(executor_->run(bad).error, "invalid request: image is not valid base64");
  bad.request_json = std::make_shared<const std::string>(R"({"model_id":"tesseract/eng"})");
  EXPECT_EQ(executor_->run(bad).error, "invalid request: image is required (base64)");
}

// OCR-4: the pixel limit is the executor's option (the worker's -maxPixels): an image
// above it, by its header, fails naming its size and the limit; one at it is read.
TEST(SpeechOcrLimit, PixelLimitIsTheWorkersOwn) {
  std::string error;
  OcrExecutor::Options options;
  options.max_pixels = 100'000;
  std::unique_ptr<OcrExecutor> limited = OcrExecutor::create(options, error);
  ASSERT_NE(limited, nullptr) << error;
  const auto blank_png = [](int width, int height) {
    PIX* blank = pixCreate(width, height, 1);
    l_uint8* data = nullptr;
    size_t size = 0;
    pixWriteMem(&data, &size, blank, IFF_PNG);
    std::string png(reinterpret_cast<const char*>(data), size);
    lept_free(data);
    pixDestroy(&blank);
    return png;
  };
  ExecResult r = limited->run(request_for(blank_png(400, 251)));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "invalid request: image: the image is 400x251 = 100400 pixels, above the limit of 100000 pixels");
  r = limited->run(request_for(blank_png(400, 250)));
  EXPECT_TRUE(r.ok) << r.error;
  auto made = make_ocr_executor(1, 1000, error);
  ASSERT_NE(made, nullptr) << error;
  ExecResult from_factory;
  made->execute(request_for(blank_png(40, 26)), [&](ExecResult result) { from_factory = std::move(result); });
  EXPECT_EQ(from_factory.error, "invalid request: image: the image is 40x26 = 1040 pixels, above the limit of 1000 pixels");
}

// OCR-1: the executor serves image-to-text under tesseract/eng only; a missing model fails creation naming the package.
TEST_F(SpeechOcr, ServesOnlyItsKeyAndNamesTheMissingPackage) {
  EXPECT_TRUE(executor_->supports(kKey));
  EXPECT_FALSE(executor_->supports({Pipeline::kAudioToText, "tesseract/eng"}));
  EXPECT_FALSE(executor_->supports({Pipeline::kImageToText, "test/echo"}));
  EXPECT_EQ(OcrExecutor::find_tessdata(), "/usr/share/tesseract-ocr/5/tessdata");
  std::string error;
  OcrExecutor::Options options;
  options.tessdata_dir = "/nonexistent";
  EXPECT_EQ(OcrExecutor::create(options, error), nullptr);
  EXPECT_NE(error.find("eng.traineddata not found in /nonexistent"), std::string::npos) << error;
  EXPECT_NE(error.find("tesseract-ocr-eng"), std::string::npos) << error;
  auto made = make_ocr_executor(1, media::kDefaultMaxPixels, error);
  ASSERT_NE(made, nullptr) << error;
  EXPECT_TRUE(made->supports(kKey));
}

// OCR-5: concurrent jobs on a two-engine executor each get their own, right, answer; execute() calls done once.
TEST_F(SpeechOcr, ConcurrentJobsAreIndependent) {
  const std::vector<std::string> words = {"alpha 1", "bravo 22", "charlie 333", "delta 4444"};
  std::vector<std::string> images;
  for (const std::string& w : words) images.push_back(render({w}));
  std::vector<std::string> got(words.size() * 2);
  std::vector<int> calls(got.size(), 0);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] {
      executor_->execute(request_for(images[i % words.size()]), [&, i](ExecResult r) {
        ++calls[i];
        got[i] = text_of(r);
      });
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(calls[i], 1);
    EXPECT_EQ(got[i], words[i % words.size()]);
  }
}

}  // namespace
}  // namespace aipool::exec
