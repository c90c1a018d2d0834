// MODEL-21: a description's words to an espeak-ng voice (tts_voice.h).
#include "exec/tts_voice.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

namespace aipool::exec {
namespace {

// MODEL-21's language names. "english" counts only when no other name is given, so
// "British English" is en-gb.
constexpr std::array<std::pair<std::string_view, std::string_view>, 35> kLanguageNames = {{
    {"american", "en-us"},   {"british", "en-gb"},   {"scottish", "en-gb-scotland"},
    {"french", "fr-fr"},     {"german", "de"},       {"spanish", "es"},
    {"italian", "it"},       {"portuguese", "pt"},   {"brazilian", "pt-br"},
    {"dutch", "nl"},         {"polish", "pl"},       {"russian", "ru"},
    {"swedish", "sv"},       {"danish", "da"},       {"norwegian", "nb"},
    {"finnish", "fi"},       {"greek", "el"},        {"turkish", "tr"},
    {"czech", "cs"},         {"hungarian", "hu"},    {"romanian", "ro"},
    {"ukrainian", "uk"},     {"hindi", "hi"},        {"arabic", "ar"},
    {"chinese", "cmn"},      {"mandarin", "cmn"},    {"cantonese", "yue"},
    {"japanese", "ja"},      {"korean", "ko"},       {"vietnamese", "vi"},
    {"indonesian", "id"},    {"esperanto", "eo"},    {"latin", "la"},
    {"welsh", "cy"},         {"irish", "ga"},
}};

constexpr std::string_view kEnglish = "english";

bool is_word_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_code_char(char c) { return is_word_char(c) || c == '-'; }

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Runs of characters for which `keep` holds, with their offsets.
std::vector<std::pair<std::size_t, std::string>> runs(const std::string& text, bool (*keep)(char)) {
  std::vector<std::pair<std::size_t, std::string>> out;
  for (std::size_t i = 0; i < text.size();) {
    if (!keep(text[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && keep(text[end])) ++end;
    out.emplace_back(i, text.substr(i, end - i));
    i = end;
  }
  return out;
}

bool one_of(const std::string& word, std::initializer_list<std::string_view> options) {
  return std::find(options.begin(), options.end(), word) != options.end();
}

std::optional<bool> female_of(const std::vector<std::string>& words) {
  for (const std::string& w : words) {
    if (one_of(w, {"female", "woman", "girl", "lady"})) return true;
    if (one_of(w, {"male", "man", "boy", "gentleman"})) return false;
  }
  return std::nullopt;
}

bool all_digits(const std::string& word) {
  return !word.empty() && std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int rate_of(const std::vector<std::string>& words) {
  const auto at = [&](std::size_t i) { return i < words.size() ? words[i] : std::string(); };
  for (std::size_t i = 0; i < words.size(); ++i) {  // "N wpm", "N words per minute"
    if (!all_digits(words[i])) continue;
    if (at(i + 1) == "wpm" || (at(i + 1) == "words" && at(i + 2) == "per" && at(i + 3) == "minute")) {
      const int n = words[i].size() > 4 ? SpeechVoice::kMaxWordsPerMinute : std::stoi(words[i]);
      return std::clamp(n, SpeechVoice::kMinWordsPerMinute, SpeechVoice::kMaxWordsPerMinute);
    }
  }
  for (std::size_t i = 0; i < words.size(); ++i) {
    const bool very = i > 0 && words[i - 1] == "very";
    if (one_of(words[i], {"slow", "slowly"})) return very ? 100 : 130;
    if (one_of(words[i], {"fast", "quick", "quickly", "rapid", "rapidly"})) return very ? 300 : 230;
  }
  return SpeechVoice::kDefaultWordsPerMinute;
}

int pitch_of(const std::vector<std::string>& words) {
  for (std::size_t i = 1; i < words.size(); ++i) {
    if (!one_of(words[i], {"pitch", "pitched", "voice", "voiced"})) continue;
    const bool very = i > 1 && words[i - 2] == "very";
    if (one_of(words[i - 1], {"high", "higher"})) return very ? 90 : 75;
    if (one_of(words[i - 1], {"low", "lower", "deep"})) return very ? 10 : 25;
  }
  return SpeechVoice::kDefaultPitch;
}

// The first token after one of `tags` and one ':' or '=' (spaces around it allowed)
// for which `known` holds.
std::optional<std::string> tagged(const std::string& text, std::initializer_list<std::string_view> tags,
                                  const NameCheck& known) {
  const auto tokens = runs(text, is_code_char);
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    if (!one_of(tokens[i].second, tags)) continue;
    const std::size_t from = tokens[i].first + tokens[i].second.size();
    const std::string between = text.substr(from, tokens[i + 1].first - from);
    const bool separated =
        std::count_if(between.begin(), between.end(), [](char c) { return c == ':' || c == '='; }) == 1 &&
        std::all_of(between.begin(), between.end(), [](char c) { return c == ':' || c == '=' || c == ' ' || c == '\t'; });
    if (separated && known(tokens[i + 1].second)) return tokens[i + 1].second;
  }
  return std::nullopt;
}

// A language code given as "language: X", "lang=X" or "voice: X", or as the whole
// description, or else the first hyphenated code anywhere.
std::optional<std::string> code_of(const std::string& text, const NameCheck& known_language) {
  const auto tokens = runs(text, is_code_char);
  if (tokens.size() == 1 && known_language(tokens[0].second)) return tokens[0].second;
  if (auto code = tagged(text, {"language", "lang", "voice"}, known_language)) return code;
  for (const auto& [offset, token] : tokens) {
    if (token.find('-') != std::string::npos && known_language(token)) return token;
  }
  return std::nullopt;
}

std::optional<std::string> named_language(const std::vector<std::string>& words,
                                          const NameCheck& known_language) {
  bool english = false;
  for (const std::string& w : words) {
    if (w == kEnglish) english = true;
    for (const auto& [name, code] : kLanguageNames) {
      if (w == name && known_language(code)) return std::string(code);
    }
  }
  if (english) return std::string("en-us");
  return std::nullopt;
}

}  // namespace

SpeechVoice voice_from_description(std::string_view description, const NameCheck& known_language,
                                   const NameCheck& known_variant) {
  const std::string text = lower_ascii(description);
  std::vector<std::string> words;
  for (auto& [offset, word] : runs(text, is_word_char)) words.push_back(std::move(word));
  SpeechVoice voice;
  voice.female = female_of(words).value_or(false);
  voice.variant = tagged(text, {"variant"}, known_variant).value_or("");
  voice.words_per_minute = rate_of(words);
  voice.pitch = pitch_of(words);
  if (auto code = code_of(text, known_language)) {
    voice.language = std::move(*code);
  } else if (auto named = named_language(words, known_language)) {
    voice.language = std::move(*named);
  }
  return voice;
}

}  // namespace aipool::exec
