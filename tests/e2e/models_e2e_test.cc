// End-to-end runs of the real models through orchestrator and worker processes: the
// built-in image models, Tesseract OCR and PocketSphinx speech recognition.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "e2e_support.h"
#include "../speech/speech_test_support.h"
#include "codec/base64.h"

#include <sndfile.h>

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

std::string first_image(const std::string& body) {
  Poco::JSON::Parser parser;
  auto object = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
  const std::string url = object->getArray("images")->getObject(0)->getValue<std::string>("url");
  const std::size_t comma = url.find(',');
  EXPECT_EQ(url.rfind("data:image/png;base64,", 0), 0u);
  return codec::base64_decode(url.substr(comma + 1)).value_or("");
}

std::pair<int, int> png_size(const std::string& png) {
  if (png.size() < 24) return {0, 0};
  const auto be32 = [&](std::size_t at) {
    return (static_cast<unsigned char>(png[at]) << 24) | (static_cast<unsigned char>(png[at + 1]) << 16) |
           (static_cast<unsigned char>(png[at + 2]) << 8) | static_cast<unsigned char>(png[at + 3]);
  };
  return {be32(16), be32(20)};
}

std::string text_of(const std::string& body) {
  Poco::JSON::Parser parser;
  return parser.parse(body).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("text");
}

class RealModels : public ::testing::Test {
 protected:
  void SetUp() override {
    orch_ = start_orchestrator();
    // A build without libtorch (the ThreadSanitizer one) has no builtin image models.
    const std::string image_models =
        AIPOOL_E2E_WITH_TORCH ? "upscale:builtin/bicubic:true:1,image-to-image:builtin/grayscale:true:1," : "";
    worker_ = start_worker({orch_.grpc_port}, "text-to-image:builtin/text-render:true:1," + image_models +
                                                  "image-to-text:tesseract/eng:true:1,"
                                                  "audio-to-text:pocketsphinx/en-us:true:1");
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

// MODEL-1, OCR-1, API-6: text-to-image renders the prompt and image-to-text reads its words back; upscale doubles the size.
TEST_F(RealModels, RenderUpscaleAndReadBack) {
  if (!AIPOOL_E2E_WITH_TORCH) GTEST_SKIP() << "upscale and image-to-image need libtorch; this build has none";
  HttpReply t2i = http_request(orch_.http_port, "POST", "/text-to-image", "application/json",
                               R"({"model_id":"builtin/text-render","prompt":"HELLO AIPOOL","width":480,"height":128,"seed":3})");
  ASSERT_EQ(t2i.status, 200) << t2i.body.substr(0, 300);
  const std::string png = first_image(t2i.body);
  EXPECT_EQ(png_size(png), (std::pair<int, int>{480, 128}));
  // The same request and seed give the same image.
  HttpReply again = http_request(orch_.http_port, "POST", "/text-to-image", "application/json",
                                 R"({"model_id":"builtin/text-render","prompt":"HELLO AIPOOL","width":480,"height":128,"seed":3})");
  EXPECT_EQ(first_image(again.body), png);

  HttpReply up = form("/upscale", {{"model_id", "builtin/bicubic"}, {"scale", "2"}, {"image", png, "in.png", "image/png"}});
  ASSERT_EQ(up.status, 200) << up.body.substr(0, 300);
  const std::string bigger = first_image(up.body);
  EXPECT_EQ(png_size(bigger), (std::pair<int, int>{960, 256}));

  HttpReply gray = form("/image-to-image", {{"model_id", "builtin/grayscale"}, {"prompt", "gray"},
                                            {"image", bigger, "in.png", "image/png"}});
  ASSERT_EQ(gray.status, 200) << gray.body.substr(0, 300);
  HttpReply ocr = form("/image-to-text", {{"model_id", "tesseract/eng"}, {"image", first_image(gray.body), "g.png", "image/png"}});
  ASSERT_EQ(ocr.status, 200) << ocr.body;
  const std::string read = text_of(ocr.body);
  EXPECT_NE(read.find("HELLO"), std::string::npos) << read;
  EXPECT_NE(read.find("AIPOOL"), std::string::npos) << read;
}

// ASR-1, ASR-2: a sentence spoken by espeak-ng comes back from audio-to-text with its key words and word timestamps.
TEST_F(RealModels, SpokenSentenceIsTranscribed) {
  const std::string wav = std::string(::testing::TempDir()) + "/e2e-sentence.wav";
  const std::string command = "espeak-ng -v en-us+klatt2 -s 150 -w " + wav + " 'hello world. the weather is nice today.'";
  ASSERT_EQ(std::system(command.c_str()), 0);
  std::ifstream file(wav, std::ios::binary);
  std::stringstream bytes;
  bytes << file.rdbuf();
  HttpReply a2t = form("/audio-to-text", {{"model_id", "pocketsphinx/en-us"}, {"return_timestamps", "word"},
                                          {"audio", bytes.str(), "s.wav", "audio/wav"}});
  ASSERT_EQ(a2t.status, 200) << a2t.body;
  const std::string heard = text_of(a2t.body);
  EXPECT_NE(heard.find("weather"), std::string::npos) << heard;
  EXPECT_NE(heard.find("today"), std::string::npos) << heard;
  Poco::JSON::Parser parser;
  auto chunks = parser.parse(a2t.body).extract<Poco::JSON::Object::Ptr>()->getArray("chunks");
  ASSERT_TRUE(chunks);
  EXPECT_GE(chunks->size(), 4u);
}

// RETRY-6, RES-7, ASR-4, API-7: a FLAC file cut in half passes the orchestrator's header check, the worker
// finds its data undecodable, and the client gets 400 with the worker's reason, not a retry or a 502;
// the worker's slot is free again afterwards.
TEST_F(RealModels, TruncatedFlacIsRefusedWithTheWorkersReason) {
  const std::vector<float> tone = speech_test::sine(440, 3.0, 44100);
  const std::string flac = speech_test::encode_audio(tone, 1, 44100, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  HttpReply cut = form("/audio-to-text", {{"model_id", "pocketsphinx/en-us"},
                                          {"audio", flac.substr(0, flac.size() / 2), "cut.flac", "audio/flac"}});
  EXPECT_EQ(cut.status, 400) << cut.body;
  EXPECT_NE(cut.body.find("\"msg\":\"audio: the audio data cannot be decoded after 1."), std::string::npos) << cut.body;
  // The whole file is accepted by the same worker: the slot of the refused job was given back.
  HttpReply whole = form("/audio-to-text", {{"model_id", "pocketsphinx/en-us"}, {"audio", flac, "tone.flac", "audio/flac"}});
  EXPECT_EQ(whole.status, 200) << whole.body;
}

}  // namespace
}  // namespace aipool::e2e
