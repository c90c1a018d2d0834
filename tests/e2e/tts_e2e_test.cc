// End-to-end runs of builtin/espeak (spec/models.md MODEL-20, MODEL-21) through real
// orchestrator and worker processes: /text-to-speech answers with a WAV data: URL,
// and that speech, sent to /audio-to-text (pocketsphinx/en-us), is heard back.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "codec/base64.h"
#include "codec/json_text.h"
#include "e2e_support.h"
#include "media/audio_codec.h"

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

class TextToSpeech : public ::testing::Test {
 protected:
  void SetUp() override {
    orch_ = start_orchestrator();
    worker_ = start_worker({orch_.grpc_port},
                           "text-to-speech:builtin/espeak:true:2,audio-to-text:pocketsphinx/en-us:true:1");
    ASSERT_TRUE(wait_for_workers(orch_.http_port, 1, 60s)) << worker_->output();
  }
  // The WAV of a /text-to-speech answer ("" with a test failure when there is none).
  std::string speak(const std::string& text, const std::string& description) {
    const std::string body = "{\"model_id\":\"builtin/espeak\",\"text\":" + codec::json_string(text) +
                             ",\"description\":" + codec::json_string(description) + "}";
    const HttpReply reply = http_request(orch_.http_port, "POST", "/text-to-speech", "application/json", body);
    EXPECT_EQ(reply.status, 200) << reply.body.substr(0, 300);
    if (reply.status != 200) return "";
    Poco::JSON::Parser parser;
    const auto object = parser.parse(reply.body).extract<Poco::JSON::Object::Ptr>();
    const std::string url = object->getObject("audio")->getValue<std::string>("url");
    const std::string prefix = "data:audio/wav;base64,";
    EXPECT_EQ(url.rfind(prefix, 0), 0u) << url.substr(0, 60);
    return codec::base64_decode(url.substr(prefix.size())).value_or("");
  }
  Orchestrator orch_;
  std::unique_ptr<ChildProcess> worker_;
};

// MODEL-20: /text-to-speech with builtin/espeak answers with a WAV data: URL that the audio decoder reads.
TEST_F(TextToSpeech, AnswersWithAWavDataUrl) {
  const std::string wav = speak("Hello from the pool.", "A female speaker, fast.");
  auto info = media::probe_audio(wav);
  ASSERT_TRUE(std::holds_alternative<media::AudioInfo>(info)) << std::get<media::AudioError>(info).message;
  EXPECT_EQ(std::get<media::AudioInfo>(info).channels, 1);
  EXPECT_EQ(std::get<media::AudioInfo>(info).sample_rate, 22050);
  EXPECT_GT(std::get<media::AudioInfo>(info).duration_s(), 0.5);
  // MODEL-20: the same request, again, gives speech of the same format and about the same length.
  const std::string again = speak("Hello from the pool.", "A female speaker, fast.");
  EXPECT_EQ(again.substr(8, 28), wav.substr(8, 28));
  EXPECT_NEAR(static_cast<double>(again.size()), static_cast<double>(wav.size()), 0.1 * static_cast<double>(wav.size()));
}

// MODEL-20, MODEL-21, ASR-1: speech made by text-to-speech and sent to audio-to-text is heard back, in part at least.
TEST_F(TextToSpeech, RoundTripThroughSpeechRecognition) {
  const std::string said = "hello world. the weather is nice today.";
  // PocketSphinx hears espeak-ng's Klatt voices far better than its default one.
  const std::string wav = speak(said, "A male speaker, 150 words per minute, variant: klatt2.");
  ASSERT_FALSE(wav.empty());
  std::string type;
  const std::string form = form_body({{"model_id", "pocketsphinx/en-us"}, {"audio", wav, "speech.wav", "audio/wav"}}, type);
  const HttpReply a2t = http_request(orch_.http_port, "POST", "/audio-to-text", type, form);
  ASSERT_EQ(a2t.status, 200) << a2t.body;
  Poco::JSON::Parser parser;
  const std::string heard = parser.parse(a2t.body).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("text");
  std::set<std::string> words;
  std::istringstream in(heard);
  for (std::string w; in >> w;) words.insert(w);
  int found = 0;
  for (const char* w : {"hello", "world", "weather", "nice", "today"}) found += words.count(w) > 0 ? 1 : 0;
  EXPECT_GE(found, 2) << "said: " << said << "; heard: " << heard;
}

}  // namespace
}  // namespace aipool::e2e
