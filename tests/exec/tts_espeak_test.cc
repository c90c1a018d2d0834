// Tests of src/exec/tts_espeak.h and tts_voice.h: builtin/espeak, text-to-speech with
// libespeak-ng (spec/models.md MODEL-20..MODEL-22). The WAVs are read back with the
// project's audio decoder (src/media/audio_codec.h).
#include "exec/tts_espeak.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "codec/json_text.h"
#include "exec_test_support.h"
#include "media/audio_codec.h"

namespace aipool::exec {
namespace {

using exec_test::run;

ExecRequest speech_request(const std::string& text, const std::string& description = "") {
  std::string fields = "\"text\":" + codec::json_string(text);
  if (!description.empty()) fields += ",\"description\":" + codec::json_string(description);
  return exec_test::request(Pipeline::kTextToSpeech, "builtin/espeak", fields);
}

EspeakExecutor& engine() {
  static const std::unique_ptr<EspeakExecutor> executor = [] {
    std::string error;
    auto made = EspeakExecutor::create({}, error);
    EXPECT_TRUE(made) << error;
    return made;
  }();
  return *executor;
}

// The WAV of a successful job (empty, with a test failure, otherwise).
std::string wav_of(const ExecResult& result) {
  EXPECT_TRUE(result.ok) << result.error;
  if (!result.ok || result.body.files.size() != 1) return "";
  EXPECT_EQ(*result.body.json, R"({"audio":{"url":"audio.wav"}})");
  EXPECT_EQ(result.body.files[0].name, "audio.wav");
  EXPECT_EQ(result.body.files[0].content_type, "audio/wav");
  return std::string(*result.body.files[0].bytes);
}

// MODEL-20: two answers of the same request are alike: the same WAV format, and
// lengths within 10 % (libespeak-ng's carried state changes the samples a little).
bool alike(const std::string& a, const std::string& b) {
  if (a.size() < 44 || b.size() < 44 || a.substr(8, 28) != b.substr(8, 28)) return false;
  const double x = static_cast<double>(a.size());
  const double y = static_cast<double>(b.size());
  return (x > y ? x - y : y - x) <= 0.1 * x;
}

double seconds_of(const std::string& wav) {
  auto info = media::probe_audio(wav);
  if (auto* error = std::get_if<media::AudioError>(&info)) {
    ADD_FAILURE() << error->message;
    return 0;
  }
  return std::get<media::AudioInfo>(info).duration_s();
}

double speak_seconds(const std::string& text, const std::string& description = "") {
  return seconds_of(wav_of(run(engine(), speech_request(text, description))));
}

const char* const kSentence = "The quick brown fox jumps over the lazy dog.";

// MODEL-20: the answer is audio.wav, 16-bit mono PCM at espeak-ng's rate, that the audio decoder reads as speech.
TEST(Espeak, AnswersWithA16BitMonoWav) {
  ASSERT_EQ(engine().sample_rate(), 22050);
  const std::string wav = wav_of(run(engine(), speech_request(kSentence)));
  ASSERT_GT(wav.size(), 44u);
  EXPECT_EQ(wav.substr(0, 4), "RIFF");
  EXPECT_EQ(wav.substr(8, 8), "WAVEfmt ");
  EXPECT_EQ(wav[20], 1);   // PCM
  EXPECT_EQ(wav[22], 1);   // mono
  EXPECT_EQ(wav[34], 16);  // bits per sample
  auto info = media::probe_audio(wav);
  ASSERT_TRUE(std::holds_alternative<media::AudioInfo>(info)) << std::get<media::AudioError>(info).message;
  const media::AudioInfo audio = std::get<media::AudioInfo>(info);
  EXPECT_EQ(audio.format, media::AudioFormat::kWav);
  EXPECT_EQ(audio.channels, 1);
  EXPECT_EQ(audio.sample_rate, 22050);
  EXPECT_EQ(static_cast<std::size_t>(audio.frames) * 2 + 44, wav.size());
  EXPECT_GT(audio.duration_s(), 1.5);
  EXPECT_LT(audio.duration_s(), 6.0);
  auto samples = media::decode_audio_16k_mono(wav);
  ASSERT_TRUE(std::holds_alternative<std::vector<float>>(samples));
  float loudest = 0;
  for (const float s : std::get<std::vector<float>>(samples)) loudest = std::max(loudest, std::abs(s));
  EXPECT_GT(loudest, 0.1f);  // speech, not silence
}

// MODEL-20: more text makes longer speech.
TEST(Espeak, DurationGrowsWithTheText) {
  const double one = speak_seconds("Hello.");
  const double two = speak_seconds(kSentence);
  const double three = speak_seconds(std::string(kSentence) + " " + kSentence + " " + kSentence);
  EXPECT_LT(one, two);
  EXPECT_LT(two * 2, three);
}

// MODEL-4, MODEL-20: the same request gives speech of the same format and about the same length, whatever ran before it (not always the same bytes: the library carries state from one synthesis to the next).
TEST(Espeak, TheSameRequestGivesTheSameSpeech) {
  const std::string first = wav_of(run(engine(), speech_request(kSentence, "A woman speaks fast.")));
  (void)wav_of(run(engine(), speech_request("Something else entirely, in German.", "german, slow, deep voice")));
  const std::string again = wav_of(run(engine(), speech_request(kSentence, "A woman speaks fast.")));
  ASSERT_GT(first.size(), 44u);
  EXPECT_TRUE(alike(first, again)) << first.size() << " and " << again.size() << " bytes";
}

// MODEL-20: jobs from several threads at once all succeed (they take turns), each with its request's speech.
TEST(Espeak, ConcurrentJobsAllSucceed) {
  const std::string a = wav_of(run(engine(), speech_request("Concurrent one.")));
  const std::string b = wav_of(run(engine(), speech_request("Concurrent two.", "female, fast")));
  std::vector<std::thread> threads;
  std::vector<std::string> got(8);
  for (std::size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&got, i] {
      const ExecResult r = i % 2 == 0 ? run(engine(), speech_request("Concurrent one."))
                                      : run(engine(), speech_request("Concurrent two.", "female, fast"));
      if (r.ok && r.body.files.size() == 1) got[i] = std::string(*r.body.files[0].bytes);
    });
  }
  for (std::thread& t : threads) t.join();
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(alike(got[i], i % 2 == 0 ? a : b)) << "job " << i;
}

// MODEL-21: fast is shorter than slow; "N words per minute" sets the rate, clamped to 80..450.
TEST(Espeak, SpeedFollowsTheDescription) {
  const double slow = speak_seconds(kSentence, "A slow speaker.");
  const double normal = speak_seconds(kSentence, "A speaker at a moderate speed.");
  const double fast = speak_seconds(kSentence, "A FAST speaker.");
  EXPECT_LT(fast, normal);
  EXPECT_LT(normal, slow);
  EXPECT_LT(speak_seconds(kSentence, "300 wpm"), speak_seconds(kSentence, "120 words per minute"));
  EXPECT_EQ(engine().voice_for("9000 words per minute").words_per_minute, 450);
  EXPECT_EQ(engine().voice_for("10 wpm").words_per_minute, 80);
}

// MODEL-21: female and male voices differ; pitch words and a named variant change the sound.
TEST(Espeak, FemaleDiffersFromMale) {
  EXPECT_TRUE(engine().voice_for("A Female speaker").female);
  EXPECT_FALSE(engine().voice_for("A male speaker").female);
  const std::string male = wav_of(run(engine(), speech_request(kSentence, "A male speaker.")));
  const std::string female = wav_of(run(engine(), speech_request(kSentence, "A female speaker.")));
  const std::string high = wav_of(run(engine(), speech_request(kSentence, "A male speaker with a high pitch.")));
  EXPECT_FALSE(male.empty());
  EXPECT_NE(male, female);
  EXPECT_NE(male, high);
  // A named variant replaces the female/male choice.
  EXPECT_TRUE(engine().has_variant("klatt2"));
  EXPECT_EQ(engine().voice_for("female, variant: KLATT2").variant, "klatt2");
  const std::string klatt = wav_of(run(engine(), speech_request(kSentence, "variant: klatt2")));
  EXPECT_FALSE(klatt.empty());
  EXPECT_NE(klatt, male);
  EXPECT_TRUE(alike(klatt, wav_of(run(engine(), speech_request(kSentence, "variant: klatt2")))));
}

// MODEL-21: a language name or an espeak-ng code picks the language; the words are spoken differently.
TEST(Espeak, LanguageFollowsTheDescription) {
  EXPECT_EQ(engine().voice_for("A French speaker").language, "fr-fr");
  EXPECT_EQ(engine().voice_for("language: de").language, "de");
  EXPECT_EQ(engine().voice_for("fr").language, "fr");
  EXPECT_EQ(engine().voice_for("British English, please").language, "en-gb");
  EXPECT_EQ(engine().voice_for("the voice is calm").language, "en-us");  // "is" (Icelandic) needs "voice: is"
  const std::string english = wav_of(run(engine(), speech_request("Bonjour tout le monde.")));
  const std::string french = wav_of(run(engine(), speech_request("Bonjour tout le monde.", "french")));
  EXPECT_FALSE(french.empty());
  EXPECT_NE(english, french);
}

// MODEL-21: the parsing itself, with a fixed set of languages: defaults, case, precedence, unknown words.
TEST(EspeakVoice, DescriptionWords) {
  const std::set<std::string, std::less<>> known = {"en-us", "en-gb", "fr-fr", "fr", "de", "is", "pt-br"};
  const std::set<std::string, std::less<>> variants = {"klatt2", "f3", "whisper"};
  const auto voice = [&](std::string_view d) {
    return voice_from_description(
        d, [&](std::string_view code) { return known.count(code) > 0; },
        [&](std::string_view name) { return variants.count(name) > 0; });
  };
  const SpeechVoice standard;
  EXPECT_EQ(voice("A male speaker delivers a slightly expressive and animated speech with a moderate speed and pitch."),
            standard);
  EXPECT_EQ(voice(""), standard);
  EXPECT_EQ(voice("gibberish words only"), standard);
  EXPECT_EQ(voice("VERY FAST").words_per_minute, 300);
  EXPECT_EQ(voice("speaks very slowly").words_per_minute, 100);
  EXPECT_EQ(voice("slow, then fast").words_per_minute, 130);
  EXPECT_EQ(voice("fast but 200 wpm").words_per_minute, 200);
  EXPECT_EQ(voice("a very high-pitched voice").pitch, 90);
  EXPECT_EQ(voice("a deep voice").pitch, 25);
  EXPECT_EQ(voice("a very low pitch").pitch, 10);
  EXPECT_EQ(voice("high energy").pitch, 50);
  EXPECT_TRUE(voice("a woman, not a man").female);
  EXPECT_FALSE(voice("a man, not a woman").female);
  EXPECT_EQ(voice("German speaker, French text").language, "de");
  EXPECT_EQ(voice("English").language, "en-us");
  EXPECT_EQ(voice("english with a british accent").language, "en-gb");
  EXPECT_EQ(voice("french, but voice=pt-br").language, "pt-br");
  EXPECT_EQ(voice("voice: is").language, "is");
  EXPECT_EQ(voice("language xx-yy").language, "en-us");
  EXPECT_EQ(voice("Klingon").language, "en-us");
  EXPECT_EQ(voice("variant: Klatt2, female").variant, "klatt2");
  EXPECT_EQ(voice("variant=whisper").variant, "whisper");
  EXPECT_EQ(voice("variant klatt2").variant, "");  // without ':' or '='
  EXPECT_EQ(voice("variant: robot").variant, "");  // not installed
}

// MODEL-22: bad requests fail with invalid request and say why; other pipelines are not served.
TEST(Espeak, BadRequestsAreRefused) {
  const auto error_of = [](const std::string& fields) {
    return run(engine(), exec_test::request(Pipeline::kTextToSpeech, "builtin/espeak", fields)).error;
  };
  EXPECT_EQ(error_of(""), "invalid request: text is required");
  EXPECT_EQ(error_of(R"("text":5)"), "invalid request: text must be a string");
  EXPECT_EQ(error_of(R"("text":"")"), "invalid request: text must hold 1 to 10000 characters (got 0)");
  EXPECT_EQ(error_of("\"text\":\"" + std::string(10001, 'a') + "\""),
            "invalid request: text must hold 1 to 10000 characters (got 10001)");
  EXPECT_EQ(error_of(R"("text":"hi","description":["female"])"), "invalid request: description must be a string");
  ExecRequest broken = speech_request("x");
  broken.request_json = std::make_shared<const std::string>("{not json");
  EXPECT_EQ(run(engine(), broken).error.rfind("invalid request: not valid JSON", 0), 0u);
  const Key llm{Pipeline::kLlm, "builtin/espeak"};
  EXPECT_FALSE(engine().supports(llm));
  EXPECT_TRUE(engine().supports({Pipeline::kTextToSpeech, "builtin/espeak"}));
  ExecRequest other = speech_request("hello");
  other.key = llm;
  const ExecResult refused = run(engine(), other);
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.error, "builtin/espeak: llm/builtin/espeak is not served");
}

// MODEL-22: 10,000 characters of two bytes each are allowed; speech past the duration limit is stopped and refused.
TEST(Espeak, LimitsOfTextAndDuration) {
  EspeakExecutor::Options options;
  options.max_seconds = 2;
  std::string error;
  auto short_limit = EspeakExecutor::create(options, error);
  ASSERT_TRUE(short_limit) << error;
  EXPECT_TRUE(run(*short_limit, speech_request("Short.")).ok);
  EXPECT_EQ(run(*short_limit, speech_request(std::string(kSentence) + " " + kSentence, "slow")).error,
            "invalid request: the speech is longer than the limit of 2 s (shorten the text or ask for a faster speed)");
  std::string accents;
  for (int i = 0; i < 10000; ++i) accents += "\xc3\xa9";  // U+00E9, two bytes each
  EXPECT_EQ(run(*short_limit, speech_request(accents)).error.rfind("invalid request: the speech is longer", 0), 0u);
}

// MODEL-20, MODEL-1: without the library the engine is unavailable, and the error names the Debian package.
TEST(Espeak, MissingLibraryIsReported) {
  EspeakExecutor::Options options;
  options.library = "libespeak-ng-absent.so.99";
  std::string error;
  EXPECT_EQ(EspeakExecutor::create(options, error), nullptr);
  EXPECT_EQ(error.rfind("cannot load libespeak-ng-absent.so.99 (", 0), 0u) << error;
  EXPECT_NE(error.find("install the Debian packages libespeak-ng1 and espeak-ng-data"), std::string::npos) << error;
}

}  // namespace
}  // namespace aipool::exec
