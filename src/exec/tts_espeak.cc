// builtin/espeak: libespeak-ng, loaded afresh for every job (tts_espeak.h).
#include "exec/tts_espeak.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <dlfcn.h>
#include <espeak-ng/espeak_ng.h>
#include <espeak-ng/speak_lib.h>

#include <clocale>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>

#include "codec/text.h"
#include "codec/wav.h"
#include "exec/request_json.h"

#ifndef AIPOOL_ESPEAK_NG_SONAME
#define AIPOOL_ESPEAK_NG_SONAME "libespeak-ng.so.1"
#endif

namespace aipool::exec {
namespace {

constexpr const char* kInstallLibrary = "install the Debian packages libespeak-ng1 and espeak-ng-data";
constexpr unsigned int kRandSeed = 1;  // what rand() starts from in a new process

// The samples of the synthesis under way. The callback has no argument of ours, so it
// finds them here; only the holder of g_synthesis sets them.
struct Collector {
  std::vector<short> samples;
  std::size_t limit = 0;
  bool over = false;
};
Collector* g_collector = nullptr;

int collect(short* wav, int count, espeak_EVENT* /*events*/) {
  if (g_collector == nullptr || wav == nullptr || count <= 0) return 0;
  if (g_collector->samples.size() + static_cast<std::size_t>(count) > g_collector->limit) {
    g_collector->over = true;
    return 1;  // stop the synthesis
  }
  g_collector->samples.insert(g_collector->samples.end(), wav, wav + count);
  return 0;
}

// LC_CTYPE as it was, put back when this goes (espeak_ng_Initialize sets C.UTF-8).
class CtypeGuard {
 public:
  CtypeGuard() {
    if (const char* now = std::setlocale(LC_CTYPE, nullptr)) saved_ = now;
  }
  ~CtypeGuard() {
    if (saved_) std::setlocale(LC_CTYPE, saved_->c_str());
  }
  CtypeGuard(const CtypeGuard&) = delete;
  CtypeGuard& operator=(const CtypeGuard&) = delete;

 private:
  std::optional<std::string> saved_;
};

// The library, loaded and initialised for synchronous output. Once initialised it is
// kept for the process's life (shared_library): libespeak-ng frees its buffers only in
// espeak_ng_Terminate, after which 1.51 cannot be initialised again, so a load per
// job leaked several KiB each time. A load that fails before initialising is undone.
class Library {
 public:
  static std::variant<std::unique_ptr<Library>, std::string> open(const EspeakExecutor::Options& options) {
    const std::string name = options.library.empty() ? AIPOOL_ESPEAK_NG_SONAME : options.library;
    void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      return "cannot load " + name + " (" + (why ? why : "unknown error") + "); " + kInstallLibrary;
    }
    std::unique_ptr<Library> library(new Library(handle));
    if (std::string missing = library->bind(); !missing.empty()) {
      return name + " lacks the function " + missing + " (libespeak-ng 1.49 or later is needed)";
    }
    if (std::string error = library->initialize(options.data_path); !error.empty()) return error;
    return library;
  }
  ~Library() {
    if (!initialized_) dlclose(handle_);  // an initialised library is never destroyed
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;

  decltype(&espeak_ng_SetVoiceByName) set_voice = nullptr;
  decltype(&espeak_ng_SetParameter) set_parameter = nullptr;
  decltype(&espeak_ng_Synthesize) synthesize = nullptr;
  decltype(&espeak_ng_GetStatusCodeMessage) message = nullptr;
  decltype(&espeak_ListVoices) list_voices = nullptr;
  int sample_rate = 0;

  std::string status_text(espeak_ng_STATUS status) const {
    char text[512] = {0};
    message(status, text, sizeof(text));
    return text;
  }

 private:
  explicit Library(void* handle) : handle_(handle) {}

  template <typename F>
  bool find(F& function, const char* name, std::string& missing) {
    function = reinterpret_cast<F>(dlsym(handle_, name));
    if (function == nullptr && missing.empty()) missing = name;
    return function != nullptr;
  }

  // The first function not found, or "".
  std::string bind() {
    std::string missing;
    find(init_path_, "espeak_ng_InitializePath", missing);
    find(initialize_, "espeak_ng_Initialize", missing);
    find(init_output_, "espeak_ng_InitializeOutput", missing);
    find(clear_context_, "espeak_ng_ClearErrorContext", missing);
    find(get_rate_, "espeak_ng_GetSampleRate", missing);
    find(set_callback_, "espeak_SetSynthCallback", missing);
    find(set_voice, "espeak_ng_SetVoiceByName", missing);
    find(set_parameter, "espeak_ng_SetParameter", missing);
    find(synthesize, "espeak_ng_Synthesize", missing);
    find(message, "espeak_ng_GetStatusCodeMessage", missing);
    find(list_voices, "espeak_ListVoices", missing);
    return missing;
  }

  std::string initialize(const std::string& data_path) {
    init_path_(data_path.empty() ? nullptr : data_path.c_str());
    espeak_ng_ERROR_CONTEXT context = nullptr;
    const espeak_ng_STATUS status = initialize_(&context);
    clear_context_(&context);
    if (status != ENS_OK) {
      return "espeak-ng cannot read its data (" + status_text(status) + "); " + kInstallLibrary;
    }
    initialized_ = true;
    if (const espeak_ng_STATUS output = init_output_(ENOUTPUT_MODE_SYNCHRONOUS, 0, nullptr); output != ENS_OK) {
      return "espeak-ng: " + status_text(output);
    }
    set_callback_(collect);
    sample_rate = get_rate_();
    if (sample_rate <= 0) return "espeak-ng reports no sample rate";
    return "";
  }

  void* handle_;
  bool initialized_ = false;
  decltype(&espeak_ng_InitializePath) init_path_ = nullptr;
  decltype(&espeak_ng_Initialize) initialize_ = nullptr;
  decltype(&espeak_ng_InitializeOutput) init_output_ = nullptr;
  decltype(&espeak_ng_ClearErrorContext) clear_context_ = nullptr;
  decltype(&espeak_ng_GetSampleRate) get_rate_ = nullptr;
  decltype(&espeak_SetSynthCallback) set_callback_ = nullptr;
};

std::string lower_ascii(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// Language code -> identifier of the voice that lists it with the best (lowest) priority.
std::map<std::string, std::string, std::less<>> voices_of(const Library& library) {
  std::map<std::string, std::pair<int, std::string>, std::less<>> best;
  const espeak_VOICE** voices = library.list_voices(nullptr);
  for (std::size_t i = 0; voices != nullptr && voices[i] != nullptr; ++i) {
    const espeak_VOICE* voice = voices[i];
    if (voice->languages == nullptr || voice->identifier == nullptr) continue;
    for (const char* p = voice->languages; *p != 0;) {
      const int priority = static_cast<unsigned char>(*p++);
      const std::string code = lower_ascii(p);
      p += std::strlen(p) + 1;
      auto it = best.find(code);
      if (it == best.end() || priority < it->second.first) best[code] = {priority, voice->identifier};
    }
  }
  std::map<std::string, std::string, std::less<>> out;
  for (auto& [code, entry] : best) out[code] = std::move(entry.second);
  return out;
}

// Lower-case name -> file name of espeak-ng's voice variants (voices/!v), e.g. "klatt2".
std::map<std::string, std::string, std::less<>> variants_of(const Library& library) {
  std::map<std::string, std::string, std::less<>> out;
  espeak_VOICE spec{};
  spec.languages = "variant";
  const espeak_VOICE** variants = library.list_voices(&spec);
  constexpr std::string_view kFolder = "!v/";
  for (std::size_t i = 0; variants != nullptr && variants[i] != nullptr; ++i) {
    const std::string_view id = variants[i]->identifier != nullptr ? variants[i]->identifier : "";
    if (id.rfind(kFolder, 0) != 0 || id.find(' ') != std::string_view::npos) continue;
    const std::string file(id.substr(kFolder.size()));
    out.emplace(lower_ascii(file), file);
  }
  return out;
}



ExecResult failed(std::string error) {
  ExecResult result;
  result.error = std::move(error);
  return result;
}

// One synthesis at a time in the process: the library's state is global.
std::mutex g_synthesis;

// The process's one initialised library (see Library), loaded at the first call; a
// failed load is not kept, so a later call tries again. Call with g_synthesis held.
std::variant<const Library*, std::string> shared_library(const EspeakExecutor::Options& options) {
  static Library* loaded = nullptr;  // never freed: reachable for the process's life
  static std::string loaded_from;
  const std::string name = options.library.empty() ? AIPOOL_ESPEAK_NG_SONAME : options.library;
  if (loaded != nullptr) {
    if (name == loaded_from) return loaded;
    void* other = dlopen(name.c_str(), RTLD_LAZY | RTLD_LOCAL);
    if (other == nullptr) {
      const char* why = dlerror();
      return "cannot load " + name + " (" + (why ? why : "unknown error") + "); " + kInstallLibrary;
    }
    dlclose(other);
    return "libespeak-ng is already loaded from " + loaded_from + ", not " + name;
  }
  auto opened = Library::open(options);
  if (auto* why = std::get_if<std::string>(&opened)) return std::move(*why);
  loaded = std::get<std::unique_ptr<Library>>(opened).release();
  loaded_from = name;
  return loaded;
}

}  // namespace

std::unique_ptr<EspeakExecutor> EspeakExecutor::create(const Options& options, std::string& error) {
  const std::lock_guard<std::mutex> lock(g_synthesis);
  const CtypeGuard ctype;
  auto opened = shared_library(options);
  if (auto* why = std::get_if<std::string>(&opened)) {
    error = std::move(*why);
    return nullptr;
  }
  const Library* library = std::get<const Library*>(opened);
  std::unique_ptr<EspeakExecutor> executor(new EspeakExecutor(options));
  executor->sample_rate_ = library->sample_rate;
  executor->voices_ = voices_of(*library);
  executor->variants_ = variants_of(*library);
  if (!executor->has_language("en-us")) {
    error = "espeak-ng has no voice for en-us; " + std::string(kInstallLibrary);
    return nullptr;
  }
  return executor;
}

bool EspeakExecutor::supports(const Key& key) const {
  return key.pipeline == Pipeline::kTextToSpeech && key.model == kModel;
}

bool EspeakExecutor::has_language(std::string_view code) const { return voices_.find(code) != voices_.end(); }

bool EspeakExecutor::has_variant(std::string_view name) const { return variants_.find(name) != variants_.end(); }

SpeechVoice EspeakExecutor::voice_for(std::string_view description) const {
  return voice_from_description(
      description, [this](std::string_view code) { return has_language(code); },
      [this](std::string_view name) { return has_variant(name); });
}

std::variant<std::vector<short>, std::string> EspeakExecutor::synthesize(const std::string& text,
                                                                         const SpeechVoice& voice) {
  const std::lock_guard<std::mutex> lock(g_synthesis);
  const CtypeGuard ctype;
  auto opened = shared_library(options_);
  if (auto* why = std::get_if<std::string>(&opened)) return "builtin/espeak: " + *why;
  const Library& library = *std::get<const Library*>(opened);
  std::string name = voices_.at(voice.language);
  if (!voice.variant.empty()) {
    name.append("+").append(variants_.at(voice.variant));
  } else if (voice.female) {
    name.append("+").append(kFemaleVariant);
  }
  if (const espeak_ng_STATUS status = library.set_voice(name.c_str()); status != ENS_OK) {
    return "builtin/espeak: cannot select the voice " + name + ": " + library.status_text(status);
  }
  library.set_parameter(espeakRATE, voice.words_per_minute, 0);
  library.set_parameter(espeakPITCH, voice.pitch, 0);
  Collector collector;
  collector.limit = static_cast<std::size_t>(options_.max_seconds) * static_cast<std::size_t>(library.sample_rate);
  g_collector = &collector;
  std::srand(kRandSeed);
  const espeak_ng_STATUS status = library.synthesize(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0,
                                                     espeakCHARS_UTF8, nullptr, nullptr);
  g_collector = nullptr;
  if (collector.over) {
    return "invalid request: the speech is longer than the limit of " + std::to_string(options_.max_seconds) +
           " s (shorten the text or ask for a faster speed)";
  }
  if (status != ENS_OK) return "builtin/espeak: " + library.status_text(status);
  return std::move(collector.samples);
}

ExecResult EspeakExecutor::run(const ExecRequest& request) {
  try {
    if (!supports(request.key)) return failed("builtin/espeak: " + key_name(request.key) + " is not served");
    auto parsed = request_object(request);
    if (auto* error = std::get_if<std::string>(&parsed)) return failed("invalid request: " + *error);
    const Poco::JSON::Object::Ptr object = std::get<Poco::JSON::Object::Ptr>(parsed);
    const Poco::Dynamic::Var text = object->get("text");
    if (text.isEmpty()) return failed("invalid request: text is required");
    if (!text.isString()) return failed("invalid request: text must be a string");
    const std::string words = text.extract<std::string>();
    if (const std::size_t n = codec::utf8_characters(words); n == 0 || n > kMaxCharacters) {
      return failed("invalid request: text must hold 1 to " + std::to_string(kMaxCharacters) + " characters (got " +
                    std::to_string(n) + ")");
    }
    const Poco::Dynamic::Var description = object->get("description");
    if (!description.isEmpty() && !description.isString()) {
      return failed("invalid request: description must be a string");
    }
    const SpeechVoice voice = voice_for(description.isEmpty() ? std::string() : description.extract<std::string>());
    auto spoken = synthesize(words, voice);
    if (auto* error = std::get_if<std::string>(&spoken)) return failed(std::move(*error));
    ExecResult result;
    result.ok = true;
    result.body.json = std::make_shared<const std::string>(R"({"audio":{"url":"audio.wav"}})");
    const std::vector<short>& samples = std::get<std::vector<short>>(spoken);
    std::string wav = codec::pcm16_mono_wav(reinterpret_cast<const std::int16_t*>(samples.data()), samples.size(),
                                            static_cast<std::uint32_t>(sample_rate_));
    result.body.files.push_back(
        ResultFile{"audio.wav", "audio/wav", std::make_shared<const std::string>(std::move(wav))});
    return result;
  } catch (const std::exception& e) {
    return failed(std::string("builtin/espeak: ") + e.what());
  }
}

void EspeakExecutor::execute(const ExecRequest& request, std::function<void(ExecResult)> done) {
  done(run(request));
}

}  // namespace aipool::exec
