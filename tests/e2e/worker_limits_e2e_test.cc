// End-to-end runs of the worker's own limits through real orchestrator and worker
// processes: an input image above the worker's -maxPixels (lower than the
// orchestrator's) passes the orchestrator's check and is refused by the worker from its
// header, and the client gets 400 with the worker's reason.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "e2e_support.h"
#include "media/image_codec.h"

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

std::string grey_png(std::uint32_t width, std::uint32_t height) {
  const std::vector<std::uint8_t> pixels(std::size_t{width} * height * 3, 128);
  return media::encode_png(pixels.data(), width, height, 3);
}

class WorkerLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    orch_ = start_orchestrator();
    std::string models = "image-to-text:tesseract/eng:true:1";
#if AIPOOL_E2E_WITH_TORCH
    models += ",image-to-image:builtin/grayscale:true:1";
#endif
    worker_ = start_worker({orch_.grpc_port}, models, {"-maxPixels", "100"});
    ASSERT_TRUE(wait_for_workers(orch_.http_port, 1, 60s)) << worker_->output();
  }
  HttpReply form(const std::string& path, const std::vector<FormPart>& parts) {
    std::string type;
    const std::string body = form_body(parts, type);
    return http_request(orch_.http_port, "POST", path, type, body);
  }
  Orchestrator orch_;
  std::unique_ptr<ChildProcess> worker_;
};

// MODEL-2, OCR-4, RES-7: the worker's -maxPixels 100 refuses an 11x10 image by its
// header, naming its size and the limit (400 to the client, not a retry); a 10x10 one
// is served.
TEST_F(WorkerLimits, ImageAboveTheWorkersMaxPixelsIsRefusedWithItsSize) {
  struct Case {
    std::string path;
    std::string model;
    std::string reason;
  };
  std::vector<Case> cases = {
      {"/image-to-text", "tesseract/eng", "image: the image is 11x10 = 110 pixels, above the limit of 100 pixels"}};
#if AIPOOL_E2E_WITH_TORCH
  cases.push_back({"/image-to-image", "builtin/grayscale", "image: the image is 11x10 = 110 pixels, above the limit of 100"});
#endif
  for (const Case& c : cases) {
    const HttpReply over =
        form(c.path, {{"model_id", c.model}, {"prompt", "p"}, {"image", grey_png(11, 10), "in.png", "image/png"}});
    EXPECT_EQ(over.status, 400) << c.model << ": " << over.body;
    EXPECT_NE(over.body.find("\"msg\":\"" + c.reason), std::string::npos) << c.model << ": " << over.body;
    const HttpReply fits =
        form(c.path, {{"model_id", c.model}, {"prompt", "p"}, {"image", grey_png(10, 10), "in.png", "image/png"}});
    EXPECT_EQ(fits.status, 200) << c.model << ": " << fits.body.substr(0, 300);
  }
}

}  // namespace
}  // namespace aipool::e2e
