#include "exec/ocr.h"

#include <allheaders.h>
#include <tesseract/baseapi.h>

#include <filesystem>
#include <variant>

#include "codec/json_text.h"
#include "codec/text.h"
#include "exec/speech_ocr_request.h"
#include "media/image_codec.h"

namespace aipool::exec {
namespace {

struct PixDeleter {
  void operator()(PIX* pix) const { pixDestroy(&pix); }
};
using PixPtr = std::unique_ptr<PIX, PixDeleter>;

// The image as Tesseract takes it best: no colormap, 1, 8 or 32 bits per pixel, and
// a transparent background made white (text drawn on transparency is otherwise lost).
PixPtr normalise(PixPtr pix) {
  if (pixGetColormap(pix.get()) != nullptr) pix.reset(pixRemoveColormap(pix.get(), REMOVE_CMAP_BASED_ON_SRC));
  if (pix && pixGetDepth(pix.get()) == 16) pix.reset(pixConvert16To8(pix.get(), L_MS_BYTE));
  if (pix && (pixGetDepth(pix.get()) == 2 || pixGetDepth(pix.get()) == 4)) pix.reset(pixConvertTo8(pix.get(), 0));
  if (pix && pixGetDepth(pix.get()) == 32 && pixGetSpp(pix.get()) == 4) {
    pix.reset(pixAlphaBlendUniform(pix.get(), 0xffffff00));
  }
  return pix;
}

// The image's pixels, or why it cannot be read. The size comes from the header, and an
// image of more than `max_pixels` pixels (0: no limit) is refused before Leptonica
// allocates its pixels (OCR-4).
std::variant<PixPtr, std::string> read_image(const std::string& bytes, std::uint64_t max_pixels) {
  const auto* data = reinterpret_cast<const l_uint8*>(bytes.data());
  l_int32 format = 0, width = 0, height = 0, bps = 0, spp = 0, colormap = 0;
  if (bytes.empty()) return std::string("the image file is empty");
  if (pixReadHeaderMem(data, bytes.size(), &format, &width, &height, &bps, &spp, &colormap) != 0 || width <= 0 ||
      height <= 0) {
    return std::string("not an image Leptonica can read (PNG, JPEG, BMP, TIFF, PNM, GIF, WebP)");
  }
  const std::uint64_t pixels = static_cast<std::uint64_t>(width) * static_cast<std::uint64_t>(height);
  if (max_pixels != 0 && pixels > max_pixels) {
    return "the image is " + std::to_string(width) + "x" + std::to_string(height) + " = " + std::to_string(pixels) +
           " pixels, above the limit of " + std::to_string(max_pixels) + " pixels";
  }
  PixPtr pix(pixReadMem(data, bytes.size()));
  if (!pix) return std::string("the image data cannot be decoded (corrupt or truncated)");
  pix = normalise(std::move(pix));
  if (!pix) return std::string("the image's pixel format cannot be converted for OCR");
  return pix;
}

}  // namespace

std::string OcrExecutor::find_tessdata() {
  for (const char* dir : {"/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                          "/usr/share/tessdata"}) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(std::filesystem::path(dir) / "eng.traineddata", ec)) return dir;
  }
  return "";
}

std::unique_ptr<OcrExecutor> OcrExecutor::create(const Options& options, std::string& error) {
  if (options.instances < 1 || options.instances > 64) {
    error = "tesseract/eng: instances must be from 1 to 64 (got " + std::to_string(options.instances) + ")";
    return nullptr;
  }
  const std::string dir = options.tessdata_dir.empty() ? find_tessdata() : options.tessdata_dir;
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_regular_file(std::filesystem::path(dir) / "eng.traineddata", ec)) {
    error = "tesseract/eng: eng.traineddata not found in " +
            (dir.empty() ? std::string("/usr/share/tesseract-ocr/5/tessdata, /usr/share/tesseract-ocr/4.00/tessdata "
                                       "or /usr/share/tessdata")
                         : dir) +
            " (install the Debian packages tesseract-ocr-eng and libtesseract-dev)";
    return nullptr;
  }
  static std::once_flag quiet;
  std::call_once(quiet, [] { setMsgSeverity(L_SEVERITY_NONE); });  // Leptonica: errors come back as results
  std::unique_ptr<OcrExecutor> executor(new OcrExecutor(options.max_pixels));
  for (int i = 0; i < options.instances; ++i) {
    auto engine = std::make_unique<tesseract::TessBaseAPI>();
    engine->SetVariable("debug_file", "/dev/null");  // no resolution estimates on stderr
    if (engine->Init(dir.c_str(), "eng", tesseract::OEM_LSTM_ONLY) != 0) {
      error = "tesseract/eng: Tesseract failed to load eng.traineddata from " + dir;
      return nullptr;
    }
    engine->SetVariable("debug_file", "/dev/null");
    executor->free_.push_back(engine.get());
    executor->engines_.push_back(std::move(engine));
  }
  return executor;
}

OcrExecutor::OcrExecutor(std::uint64_t max_pixels) : max_pixels_(max_pixels) {}

OcrExecutor::~OcrExecutor() {
  for (auto& engine : engines_) engine->End();
}

bool OcrExecutor::supports(const Key& key) const {
  return key.pipeline == Pipeline::kImageToText && key.model == kModel;
}

tesseract::TessBaseAPI* OcrExecutor::acquire() {
  std::unique_lock lock(mutex_);
  freed_.wait(lock, [this] { return !free_.empty(); });
  tesseract::TessBaseAPI* engine = free_.back();
  free_.pop_back();
  return engine;
}

void OcrExecutor::release(tesseract::TessBaseAPI* engine) {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(engine);
  }
  freed_.notify_one();
}

ExecResult OcrExecutor::run(const ExecRequest& request) {
  if (!supports(request.key)) {
    return exec_failure("tesseract/eng: " + key_name(request.key) + " is not served (only image-to-text)");
  }
  std::variant<FileRequest, ExecResult> parsed = parse_file_request(request, "image", {});
  if (auto* failed = std::get_if<ExecResult>(&parsed)) return std::move(*failed);
  std::variant<PixPtr, std::string> image = read_image(std::get<FileRequest>(parsed).file, max_pixels_);
  if (auto* why = std::get_if<std::string>(&image)) return exec_failure("invalid request: image: " + *why);
  const PixPtr& pix = std::get<PixPtr>(image);

  std::unique_ptr<char[]> text;
  {
    struct Lease {  // the engine goes back to the pool whatever happens
      OcrExecutor* self;
      tesseract::TessBaseAPI* engine;
      ~Lease() {
        engine->Clear();
        self->release(engine);
      }
    } lease{this, acquire()};
    lease.engine->SetImage(pix.get());
    text.reset(lease.engine->GetUTF8Text());
  }
  if (!text) return exec_failure("tesseract/eng: recognition failed");

  std::string json = "{\"text\":";
  codec::append_json_string(json, codec::trim(text.get()));
  json += '}';
  ExecResult result;
  result.ok = true;
  result.body.json = std::make_shared<const std::string>(std::move(json));
  return result;
}

void OcrExecutor::execute(const ExecRequest& request, std::function<void(ExecResult)> done) {
  ExecResult result;
  try {
    result = run(request);
  } catch (const std::exception& e) {  // e.g. out of memory: a failed job, not a dead worker
    result = exec_failure("tesseract/eng: " + std::string(e.what()));
  }
  done(std::move(result));
}

}  // namespace aipool::exec
