#include "exec/speech_ocr_engines.h"

#include "exec/ocr.h"
#include "exec/speech.h"
#include "media/audio_codec.h"

namespace aipool::exec {

static_assert(kOcrEngineModel == OcrExecutor::kModel);
static_assert(kSpeechEngineModel == SpeechExecutor::kModel);

std::unique_ptr<Executor> make_ocr_executor(int instances, std::uint64_t max_pixels, std::string& error) {
  OcrExecutor::Options options;
  options.instances = instances;
  options.max_pixels = max_pixels;
  return OcrExecutor::create(options, error);
}

std::unique_ptr<Executor> make_speech_executor(int instances, std::string& error) {
  SpeechExecutor::Options options;
  options.instances = instances;
  return SpeechExecutor::create(options, error);
}

std::variant<std::vector<float>, std::string> decode_audio_16k(std::string_view bytes) {
  std::variant<std::vector<float>, media::AudioError> decoded = media::decode_audio_16k_mono(bytes);
  if (auto* error = std::get_if<media::AudioError>(&decoded)) return std::move(error->message);
  return std::move(std::get<std::vector<float>>(decoded));
}

}  // namespace aipool::exec
