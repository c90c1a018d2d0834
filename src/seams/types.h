// File: types.h
// The small value types shared by the core, its seams and both nodes: time, ids,
// pipelines, keys, adverts and result bodies. Plain data; no behaviour beyond
// comparison and naming. Includes nothing of ours (the seams are the bottom layer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aipool {

// Time in microseconds on the injected clock (src/seams/clock.h). The epoch is
// whatever the clock says; only differences carry meaning.
using Micros = std::int64_t;
constexpr Micros kMicrosPerSecond = 1'000'000;

// A worker's id, chosen by the caller of Broker::worker_joined; never reused (CONN-3).
using WorkerId = std::uint64_t;
// A job's id, chosen by the core: 1, 2, 3, ...
using JobId = std::uint64_t;
// An attempt's id on the wire (TASK-1): its number from one counter under a keyed
// permutation, in [1, 2^63); 0 is never issued.
using TaskId = std::int64_t;

// The five pipelines of the seed, in the order of the wire enum AIRequestType (WIRE-4).
enum class Pipeline : std::uint8_t {
  kTextToImage = 0,
  kImageToText = 1,
  kImageToImage = 2,
  kUpscale = 3,
  kAudioToText = 4,
  kLlm = 5,
  kTextToSpeech = 6,
};
constexpr int kPipelineCount = 7;

// "text-to-image", ... (WIRE-5).
std::string_view pipeline_name(Pipeline pipeline);
// Every pipeline's name, in order, comma-separated: for errors that list them.
std::string pipeline_names();
// The inverse of pipeline_name; nullopt for any other name.
std::optional<Pipeline> pipeline_from_name(std::string_view name);
// go-livepeer's capability number: 27, 34, 28, 30, 31, 33, 36 (WIRE-3, WIRE-5).
std::uint32_t pipeline_capability(Pipeline pipeline);
// The inverse of pipeline_capability; nullopt for any other capability number.
std::optional<Pipeline> pipeline_from_capability(std::uint32_t capability);
// The wire enum value (AIRequestType) of the pipeline (WIRE-4).
inline int pipeline_request_type(Pipeline pipeline) { return static_cast<int>(pipeline); }
// The inverse of pipeline_request_type; nullopt outside 0..6.
std::optional<Pipeline> pipeline_from_request_type(int request_type);

// A (pipeline, model) pair: what a worker advertises and a job asks for.
struct Key {
  Pipeline pipeline = Pipeline::kTextToImage;
  std::string model;

  friend bool operator==(const Key&, const Key&) = default;
  friend auto operator<=>(const Key& a, const Key& b) {
    if (auto c = a.pipeline <=> b.pipeline; c != 0) return c;
    return a.model.compare(b.model) <=> 0;
  }
};

// "text-to-image/model" for logs and messages.
std::string key_name(const Key& key);

// A key the orchestrator was started with (LIST-1) and its price (LIST-3).
struct ModelOffer {
  Key key;
  double price_per_unit = 0;
  std::int64_t pixels_per_unit = 1;
  std::string currency;
  // LIST-4, TIME-5: the key's own attempt timeout and job deadline; 0: not set.
  Micros attempt_timeout = 0;
  Micros job_deadline = 0;
};

// A worker's advertisement for one key (WIRE-3): how many jobs of it it runs at once.
// Sent in its registration; the worker's own slot gate enforces the same numbers.
struct Advert {
  Key key;
  std::uint32_t capacity = 0;
};

// A job's or a result's bytes, shared without copying between the HTTP layer,
// the core and the transport. Immutable once made.
using Payload = std::shared_ptr<const std::string>;

// Immutable bytes that are all of a shared buffer or one range of it. Files
// decoded from a result post are ranges of the post's body, so that a large
// output is never copied out of it; a file an executor makes is a whole buffer.
// Read it as a string_view: `*bytes`, `bytes->size()`.
//
// Contract: the range lies inside the owner's buffer (checked by the constructor:
// a range outside it makes an empty, ownerless value). Copies share the buffer.
class SharedBytes {
 public:
  SharedBytes() = default;
  SharedBytes(Payload whole)  // NOLINT: implicit, a whole buffer is the common case
      : owner_(std::move(whole)), view_(owner_ ? std::string_view(*owner_) : std::string_view{}) {}
  SharedBytes(Payload owner, std::string_view range) {
    const auto begin = reinterpret_cast<std::uintptr_t>(owner ? owner->data() : nullptr);
    const auto at = reinterpret_cast<std::uintptr_t>(range.data());
    if (owner && at >= begin && range.size() <= owner->size() && at - begin <= owner->size() - range.size()) {
      owner_ = std::move(owner);
      view_ = range;
    }
  }
  const std::string_view& operator*() const { return view_; }
  const std::string_view* operator->() const { return &view_; }
  explicit operator bool() const { return owner_ != nullptr; }

 private:
  Payload owner_;
  std::string_view view_;
};

// One binary output of a job (an image, say), carried in the multipart result
// form (RES-3) and referenced by name from the response JSON.
struct ResultFile {
  std::string name;          // e.g. "0.png"
  std::string content_type;  // e.g. "image/png"
  SharedBytes bytes;
};

// What a worker returns for a successful attempt: the pipeline's response JSON and
// the files it references. The core passes it through without reading it.
struct ResultBody {
  Payload json;
  std::vector<ResultFile> files;
};
using ResultPtr = std::shared_ptr<const ResultBody>;

}  // namespace aipool
