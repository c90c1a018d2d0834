#include "exec/torchscript.h"

#include <torch/cuda.h>
#include <torch/script.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <sstream>

#include "codec/json_text.h"
#include "exec/torch_support.h"

namespace aipool::exec {
namespace {

// The pipeline's forward signature (MODEL-14..MODEL-17).
struct Convention {
  std::vector<c10::TypePtr> args;  // after self
  c10::TypePtr result;
  const char* text;
  const char* rule;
};

Convention convention_of(Pipeline pipeline) {
  const c10::TypePtr tensor = c10::TensorType::get();
  const c10::TypePtr str = c10::StringType::get();
  const c10::TypePtr integer = c10::IntType::get();
  const c10::TypePtr params = c10::DictType::create(c10::StringType::get(), c10::FloatType::get());
  switch (pipeline) {
    case Pipeline::kImageToImage:
    case Pipeline::kUpscale:
      return {{tensor, str, integer, params}, tensor,
              "forward(self, image: Tensor, prompt: str, seed: int, params: Dict[str, float]) -> Tensor",
              "MODEL-14"};
    case Pipeline::kTextToImage:
      return {{str, integer, integer, integer, params}, tensor,
              "forward(self, prompt: str, seed: int, width: int, height: int, params: Dict[str, float]) -> Tensor",
              "MODEL-15"};
    case Pipeline::kImageToText:
      return {{tensor, str}, str, "forward(self, image: Tensor, prompt: str) -> str", "MODEL-16"};
    case Pipeline::kAudioToText:
      return {{tensor}, str, "forward(self, audio: Tensor) -> str", "MODEL-17"};
    case Pipeline::kLlm:
    case Pipeline::kTextToSpeech:
      break;  // no TorchScript convention: refused when the entry is read (engines.cc)
  }
  return {};
}

// The useful line of a libtorch error: the interpreter's own error after its
// traceback, else the first line.
std::string error_line(const char* text) {
  std::string s(text);
  if (s.rfind("The following operation failed in the TorchScript interpreter", 0) == 0) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    const std::size_t start = s.rfind('\n');
    return start == std::string::npos ? s : s.substr(start + 1);
  }
  const std::size_t end = s.find('\n');
  return end == std::string::npos ? s : s.substr(0, end);
}

// MODEL-18: forward's arguments accept the convention's values, extra arguments have
// defaults, and the result is of the convention's type.
std::string check_schema(torch::jit::Module& module, Pipeline pipeline, const std::string& file) {
  const Convention convention = convention_of(pipeline);
  const std::string expected = std::string(pipeline_name(pipeline)) + " needs `" + convention.text +
                               "` (spec/models.md " + convention.rule + ")";
  const c10::optional<torch::jit::Method> method = module.find_method("forward");
  if (!method) return "torchscript: " + file + " has no forward method; " + expected;
  const c10::FunctionSchema& schema = method->function().getSchema();
  std::ostringstream found;
  found << schema;
  const std::string mismatch = "torchscript: " + file + ": forward is `" + found.str() + "`; " + expected;
  const auto& args = schema.arguments();
  if (args.size() < convention.args.size() + 1) return mismatch;
  for (std::size_t i = 0; i < convention.args.size(); ++i) {
    if (!convention.args[i]->isSubtypeOf(*args[i + 1].type())) return mismatch;
  }
  for (std::size_t i = convention.args.size() + 1; i < args.size(); ++i) {
    if (!args[i].default_value()) return mismatch;
  }
  if (schema.returns().size() != 1 || !schema.returns()[0].type()->isSubtypeOf(*convention.result)) return mismatch;
  return "";
}

c10::Dict<std::string, double> params_of(const JobRequest& job) {
  c10::Dict<std::string, double> params;
  for (const auto& [name, value] : job.numeric_fields()) params.insert(name, value);
  return params;
}

}  // namespace

struct TorchScriptExecutor::Impl {
  Options options;
  mutable std::mutex mutex;
  bool tried = false;
  std::string error;
  std::vector<torch::jit::Module> modules;  // one per device; fixed once loaded
  std::vector<c10::Device> devices;
  std::atomic<std::uint64_t> next{0};

  // The result tensor of an image pipeline as 8-bit RGB (MODEL-14).
  media::Image image_of(const c10::IValue& out) const {
    if (!out.isTensor()) {
      throw JobError("torchscript: forward returned " + std::string(out.tagKind()) +
                     ", expected a Tensor [1,3,H,W] (spec/models.md MODEL-14)");
    }
    const at::Tensor t = out.toTensor();
    const bool shape_ok = (t.dim() == 4 && t.size(0) == 1) || t.dim() == 3;
    const std::int64_t channels = shape_ok ? t.size(t.dim() - 3) : 0;
    if (!shape_ok || (channels != 1 && channels != 3) || t.size(-1) < 1 || t.size(-2) < 1 ||
        !t.is_floating_point()) {
      std::ostringstream shape;
      shape << t.sizes() << " " << t.scalar_type();
      throw JobError("torchscript: forward returned a tensor " + shape.str() +
                     ", expected a float tensor [1,3,H,W] or [3,H,W] (spec/models.md MODEL-14)");
    }
    check_output_size(static_cast<std::uint64_t>(t.size(-1)), static_cast<std::uint64_t>(t.size(-2)),
                      options.limits);
    return torch_support::to_image(t, 255.0f);
  }

  std::string text_of(const c10::IValue& out) const {
    if (!out.isString()) {
      throw JobError("torchscript: forward returned " + std::string(out.tagKind()) + ", expected a str");
    }
    return out.toStringRef();
  }

  // audio-to-text (MODEL-17): the decoded samples through `module` on `device`, as
  // {"text", "chunks"} with one chunk spanning the whole audio.
  ExecResult transcribe(torch::jit::Module& module, const c10::Device& device, const JobRequest& job) const {
    if (!options.audio_decoder) {
      return job_failure("torchscript: audio-to-text needs an audio decoder, and this worker has none");
    }
    std::variant<std::vector<float>, std::string> decoded = options.audio_decoder(job.file("audio"));
    if (auto* error = std::get_if<std::string>(&decoded)) return job_failure("invalid request: audio: " + *error);
    std::vector<float>& samples = std::get<std::vector<float>>(decoded);
    const auto count = static_cast<std::int64_t>(samples.size());
    const at::Tensor audio = at::from_blob(samples.data(), {count}, at::kFloat).to(device);
    const std::string text = text_of(module.forward({audio}));
    std::ostringstream duration;
    duration << static_cast<double>(count) / kAudioSampleRate;
    ExecResult result;
    result.ok = true;
    std::string json = "{\"text\":" + codec::json_string(text) + ",\"chunks\":[{\"timestamp\":[0," +
                       duration.str() + "],\"text\":" + codec::json_string(text) + "}]}";
    result.body.json = std::make_shared<const std::string>(std::move(json));
    return result;
  }
};

TorchScriptExecutor::TorchScriptExecutor(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  torch_support::prepare_thread(impl_->options.cpu_threads);
}

TorchScriptExecutor::~TorchScriptExecutor() = default;

std::string TorchScriptExecutor::load() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->tried) return impl_->error;
  impl_->tried = true;
  const std::string& file = impl_->options.file;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    impl_->error = "torchscript: no such file: " + file;
    return impl_->error;
  }
  std::vector<c10::Device> devices;
  if (!impl_->options.gpu_ids.empty() && torch::cuda::is_available()) {
    const auto visible = static_cast<long long>(torch::cuda::device_count());
    for (const std::string& id : impl_->options.gpu_ids) {
      const long long index = std::stoll(id);
      if (index < 0 || index >= visible) {
        impl_->error = "torchscript: GPU " + id + " is not visible to libtorch (it sees " +
                       std::to_string(visible) + ")";
        return impl_->error;
      }
      devices.emplace_back(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
    }
  } else {
    devices.emplace_back(c10::kCPU);
  }
  torch_support::prepare_thread(impl_->options.cpu_threads);
  std::vector<torch::jit::Module> modules;
  try {
    for (const c10::Device& device : devices) {
      torch::jit::Module module = torch::jit::load(file, device);
      module.eval();
      if (std::string bad = check_schema(module, impl_->options.pipeline, file); !bad.empty()) {
        impl_->error = std::move(bad);
        return impl_->error;
      }
      modules.push_back(std::move(module));
    }
  } catch (const c10::Error& e) {
    impl_->error = "torchscript: cannot load " + file + ": " + error_line(e.what_without_backtrace());
    return impl_->error;
  } catch (const std::exception& e) {
    impl_->error = "torchscript: cannot load " + file + ": " + error_line(e.what());
    return impl_->error;
  }
  impl_->modules = std::move(modules);
  impl_->devices = std::move(devices);
  return "";
}

bool TorchScriptExecutor::loaded() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return !impl_->modules.empty();
}

std::string TorchScriptExecutor::device() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::string out;
  for (const c10::Device& device : impl_->devices) {
    if (!out.empty()) out += ',';
    out += device.str();
  }
  return out.empty() ? "cpu" : out;
}

bool TorchScriptExecutor::supports(const Key& key) const {
  return key.model == kEngine && key.pipeline == impl_->options.pipeline;
}

ExecResult TorchScriptExecutor::run(const ExecRequest& request) {
  try {
    if (!supports(request.key)) {
      return job_failure("torchscript: " + key_name(request.key) + " is not served by this module");
    }
    if (std::string error = load(); !error.empty()) return job_failure(std::move(error));
    torch_support::prepare_thread(impl_->options.cpu_threads);
    const JobRequest job(request);
    const std::size_t replica = impl_->next.fetch_add(1) % impl_->modules.size();
    torch::jit::Module& module = impl_->modules[replica];
    const c10::Device device = impl_->devices[replica];
    const Options& options = impl_->options;
    c10::InferenceMode inference;
    switch (request.key.pipeline) {
      case Pipeline::kImageToImage:
      case Pipeline::kUpscale: {
        const std::string prompt = job.string_or("prompt", "");
        const std::int64_t seed = job.seed();
        const int images = request.key.pipeline == Pipeline::kUpscale ? 1 : job.num_images();
        const at::Tensor input = torch_support::to_tensor(job.image(options.limits), 1.0f / 255.0f).contiguous().to(device);
        const c10::Dict<std::string, double> params = params_of(job);
        std::vector<Payload> pngs;
        for (int k = 0; k < images; ++k) {
          // A module may change its inputs in place: each call gets its own.
          const at::Tensor image = k + 1 < images ? input.clone() : input;
          const c10::IValue out = module.forward({image, prompt, seed_plus(seed, k), params.copy()});
          pngs.push_back(std::make_shared<const std::string>(media::encode_png(impl_->image_of(out), options.png)));
        }
        return image_result(pngs, seed);
      }
      case Pipeline::kTextToImage: {
        const std::string prompt = job.string_or("prompt", "");
        const std::int64_t seed = job.seed();
        const std::int64_t width = job.int_or("width", 1024, 1, 1 << 20);
        const std::int64_t height = job.int_or("height", 576, 1, 1 << 20);
        check_output_size(static_cast<std::uint64_t>(width), static_cast<std::uint64_t>(height), options.limits);
        const c10::Dict<std::string, double> params = params_of(job);
        std::vector<Payload> pngs;
        for (int k = 0; k < job.num_images(); ++k) {
          const c10::IValue out = module.forward({prompt, seed_plus(seed, k), width, height, params.copy()});
          pngs.push_back(std::make_shared<const std::string>(media::encode_png(impl_->image_of(out), options.png)));
        }
        return image_result(pngs, seed);
      }
      case Pipeline::kImageToText: {
        const at::Tensor input = torch_support::to_tensor(job.image(options.limits), 1.0f / 255.0f).contiguous().to(device);
        return text_result(impl_->text_of(module.forward({input, job.string_or("prompt", "")})));
      }
      case Pipeline::kAudioToText:
        return impl_->transcribe(module, device, job);
      case Pipeline::kLlm:
      case Pipeline::kTextToSpeech:
        break;
    }
    return job_failure("torchscript: unknown pipeline");
  } catch (const JobError& e) {
    return job_failure(e.what());
  } catch (const c10::Error& e) {
    return job_failure("torchscript: forward failed: " + error_line(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return job_failure("torchscript: forward failed: " + error_line(e.what()));
  }
}

void TorchScriptExecutor::execute(const ExecRequest& request, std::function<void(ExecResult)> done) {
  done(run(request));
}

}  // namespace aipool::exec
