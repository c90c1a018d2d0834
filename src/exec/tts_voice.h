// File: tts_voice.h
// builtin/espeak's reading of a text-to-speech request's `description` (spec/models.md
// MODEL-21): which language, voice variant, speed and pitch the words ask for.
//
//   SpeechVoice voice = voice_from_description("A female speaker, very fast, in French",
//                                              has_language, has_variant);
//   // voice.language == "fr-fr", voice.female, voice.words_per_minute == 300
//
// Contract: pure; thread-safe; never fails (words it does not know are ignored, so any
// description gives a voice). `known_language` tells whether espeak-ng has a voice for
// a language code (lower case, e.g. "fr", "en-us"), `known_variant` whether it has a
// voice variant of that name (lower case, e.g. "klatt2"); others are ignored.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace aipool::exec {

struct SpeechVoice {
  static constexpr int kMinWordsPerMinute = 80;   // espeak-ng's espeakRATE_MINIMUM
  static constexpr int kMaxWordsPerMinute = 450;  // espeak-ng's espeakRATE_MAXIMUM
  static constexpr int kDefaultWordsPerMinute = 175;
  static constexpr int kDefaultPitch = 50;

  std::string language = "en-us";  // an espeak-ng language code, lower case
  bool female = false;             // espeak-ng's variant f3, else the language's own voice
  std::string variant;             // a variant named in the description (lower case); replaces `female`
  int words_per_minute = kDefaultWordsPerMinute;
  int pitch = kDefaultPitch;       // 0..100

  bool operator==(const SpeechVoice&) const = default;
};

// The female variant's name in espeak-ng's voices/!v folder.
inline constexpr std::string_view kFemaleVariant = "f3";

// MODEL-21: the voice `description` asks for.
using NameCheck = std::function<bool(std::string_view name)>;
SpeechVoice voice_from_description(std::string_view description, const NameCheck& known_language,
                                   const NameCheck& known_variant);

}  // namespace aipool::exec
