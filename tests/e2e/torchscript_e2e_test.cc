// A TorchScript model built at test time runs through real orchestrator and worker
// processes (MODEL-12, MODEL-14): nothing downloaded, nothing checked in.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <torch/script.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <vector>

#include "e2e_support.h"
#include "codec/base64.h"
#include "media/image_codec.h"

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

// MODEL-12, MODEL-14: an image-to-image TorchScript module (1 - image) served under an operator's model id inverts the image.
TEST(EndToEndTorchScript, ModuleBuiltAtTestTimeRunsThroughTheWorker) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / ("aipool-e2e-ts-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  torch::jit::Module module("invert");
  module.define(
      "def forward(self, image: Tensor, prompt: str, seed: int, params: Dict[str, float]) -> Tensor:\n"
      "    return 1.0 - image\n");
  module.save((dir / "invert.pt").string());
  const std::string models = (dir / "models.json").string();
  FILE* f = std::fopen(models.c_str(), "w");
  std::fputs(R"([{"pipeline":"image-to-image","model_id":"acme/invert","executor":"torchscript","file":"invert.pt","warm":true}])", f);
  std::fclose(f);

  Orchestrator orch = start_orchestrator();
  auto worker = start_worker({orch.grpc_port}, models, {"-aiModelsDir", dir.string()});
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 60s)) << worker->output();

  std::vector<std::uint8_t> pixels(8 * 8 * 3);
  for (std::size_t i = 0; i < pixels.size(); i += 3) {
    pixels[i] = 10;
    pixels[i + 1] = 20;
    pixels[i + 2] = 30;
  }
  const std::string png = media::encode_png(pixels.data(), 8, 8, 3);
  std::string type;
  const std::string body = form_body({{"model_id", "acme/invert"}, {"prompt", "invert"}, {"image", png, "in.png", "image/png"}}, type);
  const HttpReply reply = http_request(orch.http_port, "POST", "/image-to-image", type, body);
  ASSERT_EQ(reply.status, 200) << reply.body.substr(0, 300);
  Poco::JSON::Parser parser;
  const std::string url = parser.parse(reply.body).extract<Poco::JSON::Object::Ptr>()->getArray("images")->getObject(0)
                              ->getValue<std::string>("url");
  const std::string out = codec::base64_decode(url.substr(url.find(',') + 1)).value_or("");
  auto decoded = media::decode_image(out);
  ASSERT_TRUE(std::holds_alternative<media::Image>(decoded));
  const media::Image& image = std::get<media::Image>(decoded);
  ASSERT_EQ(image.width, 8u);
  ASSERT_EQ(image.height, 8u);
  EXPECT_EQ(image.pixels[0], 245);
  EXPECT_EQ(image.pixels[1], 235);
  EXPECT_EQ(image.pixels[2], 225);
}

}  // namespace
}  // namespace aipool::e2e
