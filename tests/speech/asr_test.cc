// Tests of audio-to-text with PocketSphinx (src/exec/speech.h): sentences spoken by
// espeak-ng come back with their key words and timestamps.
#include "exec/speech.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <sndfile.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "codec/base64.h"
#include "exec/speech_ocr_engines.h"
#include "speech_test_support.h"

namespace aipool::exec {
namespace {

using speech_test::encode_audio;
using speech_test::read_audio;
using speech_test::sine;
using speech_test::speak;

const Key kKey{Pipeline::kAudioToText, "pocketsphinx/en-us"};
// Two sentences with a one-second pause between them.
const std::string kTwoSentences = R"(hello world. <break time="1s"/> the weather is nice today.)";

struct Chunk {
  double start = 0;
  double end = 0;
  std::string text;
};

struct Answer {
  std::string text;
  std::vector<Chunk> chunks;
};

ExecRequest request_for(const std::string& audio, const std::string& timestamps = "") {
  ExecRequest request;
  request.key = kKey;
  std::string json = R"({"model_id":"pocketsphinx/en-us","audio":")" + codec::base64_encode(audio) + "\"";
  if (!timestamps.empty()) json += R"(,"return_timestamps":")" + timestamps + "\"";
  request.request_json = std::make_shared<const std::string>(json + ",\"metadata\":\"{}\"}");
  return request;
}

Answer answer_of(const ExecResult& result) {
  Answer answer;
  EXPECT_TRUE(result.ok) << result.error;
  if (!result.ok) return answer;
  Poco::JSON::Parser parser;
  auto object = parser.parse(*result.body.json).extract<Poco::JSON::Object::Ptr>();
  answer.text = object->getValue<std::string>("text");
  auto chunks = object->getArray("chunks");
  EXPECT_NE(chunks, nullptr) << *result.body.json;
  for (unsigned i = 0; chunks && i < chunks->size(); ++i) {
    auto chunk = chunks->getObject(i);
    auto stamp = chunk->getArray("timestamp");
    EXPECT_EQ(stamp->size(), 2u);
    answer.chunks.push_back({stamp->getElement<double>(0), stamp->getElement<double>(1),
                             chunk->getValue<std::string>("text")});
  }
  return answer;
}

std::set<std::string> words_of(const std::string& text) {
  std::set<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.insert(w);
  return words;
}

// How many of `wanted` are among the words of `text`.
int found(const std::string& text, const std::vector<std::string>& wanted) {
  const std::set<std::string> words = words_of(text);
  int n = 0;
  for (const std::string& w : wanted) n += words.contains(w) ? 1 : 0;
  return n;
}

double duration_of(const std::string& wav) {
  int channels = 0, rate = 0;
  const std::vector<float> samples = read_audio(wav, channels, rate);
  return rate > 0 ? static_cast<double>(samples.size()) / channels / rate : 0;
}

class SpeechAsr : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    SpeechExecutor::Options options;
    options.instances = 2;
    executor_ = SpeechExecutor::create(options, error).release();
    ASSERT_NE(executor_, nullptr) << error;
  }
  static void TearDownTestSuite() {
    delete executor_;
    executor_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(executor_, nullptr); }
  static SpeechExecutor* executor_;
};
SpeechExecutor* SpeechAsr::executor_ = nullptr;

// ASR-6, ASR-8: a sentence made with espeak-ng comes back with its key words (small recognition errors allowed).
TEST_F(SpeechAsr, SpokenSentenceComesBackWithItsWords) {
  const Answer a = answer_of(executor_->run(request_for(speak(kTwoSentences, true))));
  EXPECT_GE(found(a.text, {"hello", "world", "weather", "nice", "today"}), 4) << a.text;
  EXPECT_EQ(found(a.text, {"weather", "today"}), 2) << a.text;
  EXPECT_EQ(a.text.find("<"), std::string::npos) << a.text;  // no <s>, </s>, <sil>
  EXPECT_EQ(a.text.find("("), std::string::npos) << a.text;  // no "(2)" pronunciation marks
}

// ASR-7: "word" gives one chunk per word of the text, times increasing and within the audio.
TEST_F(SpeechAsr, WordTimestampsIncreaseWithinTheAudio) {
  const std::string wav = speak(kTwoSentences, true);
  const double duration = duration_of(wav);
  const Answer a = answer_of(executor_->run(request_for(wav, "word")));
  ASSERT_FALSE(a.chunks.empty());
  std::string joined;
  double previous_end = 0;
  for (const Chunk& c : a.chunks) {
    joined += (joined.empty() ? "" : " ") + c.text;
    EXPECT_EQ(c.text.find(' '), std::string::npos) << c.text;
    EXPECT_LT(c.start, c.end) << c.text;
    EXPECT_GE(c.start, previous_end - 1e-9) << c.text;
    EXPECT_LE(c.end, duration + 0.01) << c.text;
    previous_end = c.end;
  }
  EXPECT_EQ(joined, a.text);
  // The pause sits between "world" and the second sentence.
  for (std::size_t i = 1; i < a.chunks.size(); ++i) {
    if (a.chunks[i - 1].text == "world") {
      EXPECT_GE(a.chunks[i].start - a.chunks[i - 1].end, 0.5);
    }
  }
}

// ASR-7: "sentence" and "true" split at the one-second pause into two chunks; "false" gives no chunk but the text.
TEST_F(SpeechAsr, SentenceChunksSplitAtPauses) {
  const std::string wav = speak(kTwoSentences, true);
  const Answer sentence = answer_of(executor_->run(request_for(wav, "sentence")));
  ASSERT_EQ(sentence.chunks.size(), 2u) << sentence.text;
  EXPECT_GE(found(sentence.chunks[0].text, {"hello", "world"}), 1) << sentence.chunks[0].text;
  EXPECT_GE(found(sentence.chunks[1].text, {"weather", "nice", "today"}), 2) << sentence.chunks[1].text;
  EXPECT_GE(sentence.chunks[1].start - sentence.chunks[0].end, SpeechExecutor::kSentenceGap);
  EXPECT_EQ(sentence.chunks[0].text + " " + sentence.chunks[1].text, sentence.text);
  const Answer by_default = answer_of(executor_->run(request_for(wav)));
  const Answer with_true = answer_of(executor_->run(request_for(wav, "true")));
  ASSERT_EQ(with_true.chunks.size(), 2u);
  EXPECT_EQ(by_default.chunks.size(), 2u);
  EXPECT_EQ(with_true.chunks[1].start, sentence.chunks[1].start);
  const Answer none = answer_of(executor_->run(request_for(wav, "false")));
  EXPECT_TRUE(none.chunks.empty());
  EXPECT_EQ(none.text, sentence.text);
}

// ASR-5, ASR-6: times count from the start of the audio, leading silence included; silence alone gives "" and no chunk.
TEST_F(SpeechAsr, TimesAreAbsoluteAndSilenceIsEmpty) {
  int channels = 0, rate = 0;
  std::vector<float> speech = read_audio(speak("the weather is nice today."), channels, rate);
  ASSERT_EQ(channels, 1);
  std::vector<float> padded(static_cast<std::size_t>(2 * rate), 0.0f);
  padded.insert(padded.end(), speech.begin(), speech.end());
  const Answer a = answer_of(executor_->run(request_for(encode_audio(padded, 1, rate, SF_FORMAT_WAV | SF_FORMAT_PCM_16), "word")));
  ASSERT_FALSE(a.chunks.empty());
  EXPECT_GE(a.chunks.front().start, 2.0);
  EXPECT_GE(found(a.text, {"weather", "nice", "today"}), 2) << a.text;
  const std::vector<float> silence(16000 * 2, 0.0f);
  const Answer quiet = answer_of(executor_->run(request_for(encode_audio(silence, 1, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16))));
  EXPECT_EQ(quiet.text, "");
  EXPECT_TRUE(quiet.chunks.empty());
}

// ASR-3: the same speech as 44.1 kHz stereo OGG Vorbis and as FLAC is resampled and recognised alike.
TEST_F(SpeechAsr, OggStereoAndFlacAreRecognised) {
  int channels = 0, rate = 0;
  const std::vector<float> speech = read_audio(speak("the weather is nice today."), channels, rate);
  std::vector<float> stereo;
  for (float s : speech) {
    stereo.push_back(s);
    stereo.push_back(s);
  }
  const Answer ogg = answer_of(executor_->run(request_for(encode_audio(stereo, 2, rate, SF_FORMAT_OGG | SF_FORMAT_VORBIS))));
  EXPECT_GE(found(ogg.text, {"weather", "nice", "today"}), 2) << ogg.text;
  const Answer flac = answer_of(executor_->run(request_for(encode_audio(speech, 1, rate, SF_FORMAT_FLAC | SF_FORMAT_PCM_16))));
  EXPECT_GE(found(flac.text, {"weather", "nice", "today"}), 2) << flac.text;
}

// ASR-4: undecodable audio, a bad return_timestamps or a missing audio field fail with a worker error that says why.
TEST_F(SpeechAsr, BadRequestsFailWithTheReason) {
  ExecResult r = executor_->run(request_for("RIFF-wave-bytes"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.rfind("invalid request: audio: not a readable WAV, FLAC or OGG audio file", 0), 0u) << r.error;
  const std::string wav = encode_audio(sine(440, 0.2, 16000), 1, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  r = executor_->run(request_for(wav, "paragraph"));
  EXPECT_EQ(r.error, "invalid request: return_timestamps must be one of true, false, word, sentence");
  ExecRequest bad = request_for(wav);
  bad.request_json = std::make_shared<const std::string>(R"({"model_id":"pocketsphinx/en-us"})");
  EXPECT_EQ(executor_->run(bad).error, "invalid request: audio is required (base64)");
  bad.request_json = std::make_shared<const std::string>("[1]");
  EXPECT_EQ(executor_->run(bad).error, "invalid request: not a JSON object");
}

// ASR-5: regions split at pauses of 0.5 s or more, keep shorter pauses, are padded, and cut above 30 s.
TEST(SpeechRegions, SplitAtLongPausesOnly) {
  const auto tone = [](double seconds) { return sine(200, seconds, 16000); };
  const auto gap = [](double seconds) { return std::vector<float>(static_cast<std::size_t>(seconds * 16000), 0.0f); };
  const auto join = [](std::initializer_list<std::vector<float>> parts) {
    std::vector<float> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  std::vector<SpeechRegion> r = split_speech(join({gap(1), tone(1), gap(1), tone(1), gap(1)}));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].begin, 12000u);  // 1 s - 0.25 s of padding
  EXPECT_EQ(r[0].end, 36000u);    // 2 s + 0.25 s
  EXPECT_EQ(r[1].begin, 44000u);
  EXPECT_EQ(r[1].end, 68000u);
  EXPECT_EQ(split_speech(join({tone(1), gap(0.3), tone(1)})).size(), 1u);
  EXPECT_TRUE(split_speech(gap(2)).empty());
  EXPECT_TRUE(split_speech({}).empty());
  const std::vector<float> long_speech = tone(70);
  r = split_speech(long_speech);
  ASSERT_GE(r.size(), 3u);
  EXPECT_EQ(r.front().begin, 0u);
  EXPECT_EQ(r.back().end, long_speech.size());
  for (std::size_t i = 0; i < r.size(); ++i) {
    EXPECT_LE(r[i].end - r[i].begin, 30u * 16000);
    if (i > 0) {
      EXPECT_EQ(r[i].begin, r[i - 1].end);
    }
  }
}

// ASR-1: the executor serves audio-to-text under pocketsphinx/en-us only; missing or broken model files fail creation saying why.
TEST_F(SpeechAsr, ServesOnlyItsKeyAndNamesTheMissingPackage) {
  EXPECT_TRUE(executor_->supports(kKey));
  EXPECT_FALSE(executor_->supports({Pipeline::kImageToText, "pocketsphinx/en-us"}));
  std::string error;
  SpeechExecutor::Options options;
  options.model_dir = "/nonexistent";
  EXPECT_EQ(SpeechExecutor::create(options, error), nullptr);
  EXPECT_NE(error.find("/nonexistent/en-us/mdef not found"), std::string::npos) << error;
  EXPECT_NE(error.find("pocketsphinx-en-us"), std::string::npos) << error;
  // A model whose language model is garbage: PocketSphinx's reason comes back.
  const auto dir = std::filesystem::temp_directory_path() / ("aipool-bad-model-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::create_directory_symlink(std::string(SpeechExecutor::kDefaultModelDir) + "/en-us", dir / "en-us");
  std::filesystem::create_symlink(std::string(SpeechExecutor::kDefaultModelDir) + "/cmudict-en-us.dict",
                                  dir / "cmudict-en-us.dict");
  std::ofstream(dir / "en-us.lm.bin") << std::string(4096, 'x');
  options.model_dir = dir.string();
  EXPECT_EQ(SpeechExecutor::create(options, error), nullptr);
  std::filesystem::remove_all(dir);
  EXPECT_NE(error.find("failed to load: "), std::string::npos) << error;
  EXPECT_NE(error.find("en-us.lm.bin"), std::string::npos) << error;
  EXPECT_EQ(make_speech_executor(0, error), nullptr);
  EXPECT_NE(error.find("instances must be from 1 to 64"), std::string::npos) << error;
}

// ASR-8: concurrent jobs on a two-decoder executor give the same answers as one at a time; done is called once each.
TEST_F(SpeechAsr, ConcurrentJobsAreIndependent) {
  const std::vector<std::string> wavs = {speak("hello world."), speak("the weather is nice today."),
                                         speak("hello world.")};
  std::vector<std::string> serial;
  for (const std::string& wav : wavs) serial.push_back(answer_of(executor_->run(request_for(wav, "word"))).text);
  std::vector<std::string> parallel(wavs.size());
  std::vector<int> calls(wavs.size(), 0);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < wavs.size(); ++i) {
    threads.emplace_back([&, i] {
      executor_->execute(request_for(wavs[i], "word"), [&, i](ExecResult r) {
        ++calls[i];
        parallel[i] = answer_of(r).text;
      });
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < wavs.size(); ++i) {
    EXPECT_EQ(calls[i], 1);
    EXPECT_EQ(parallel[i], serial[i]);
  }
}

}  // namespace
}  // namespace aipool::exec
