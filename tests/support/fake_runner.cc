// A stand-in for ai-runner / OpenAI-compatible servers, for tests only (fake_runner.h).
#include "fake_runner.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>

#include <algorithm>
#include <csignal>
#include <sstream>
#include <thread>

#include "codec/base64.h"
#include "codec/multipart.h"

namespace aipool::testing {

struct FakeRunner::Impl {
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::string health = "OK";
  std::chrono::milliseconds delay{0};
  int fail_status = 0;
  std::string fail_body;
  bool drop = false;
  std::size_t drop_announced = 1000;
  bool chunked = false;
  Stream stream;
  bool released = false;
  bool stopping = false;
  std::string image = std::string("\x89PNG\r\n\x1a\n", 8) + "fake image";
  std::vector<Received> requests;
  int health_checks = 0;
  int chunks_sent = 0;
  int disconnects = 0;
  int in_flight = 0;      // POSTs being answered now
  int max_in_flight = 0;  // the most at once since the last take_max_in_flight()
  std::unique_ptr<Poco::Net::HTTPServer> server;
  bool https = false;
};

// Counts one POST in FakeRunner::Impl::in_flight while it is answered.
class InFlight {
 public:
  explicit InFlight(FakeRunner::Impl& impl) : impl_(impl) {
    std::lock_guard lock(impl_.mutex);
    impl_.max_in_flight = std::max(impl_.max_in_flight, ++impl_.in_flight);
  }
  ~InFlight() {
    std::lock_guard lock(impl_.mutex);
    --impl_.in_flight;
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  FakeRunner::Impl& impl_;
};

namespace {

std::string data_url(const std::string& type, const std::string& bytes) {
  return "data:" + type + ";base64," + codec::base64_encode(bytes);
}

std::vector<FakeRunner::Part> parts_of(const std::string& content_type, const std::string& body) {
  std::vector<FakeRunner::Part> parts;
  if (codec::media_type(content_type) != "multipart/form-data") return parts;
  const std::optional<std::string> boundary = codec::header_param(content_type, "boundary");
  if (!boundary) return parts;
  const codec::MultipartResult parsed = codec::parse_multipart(body, *boundary);
  for (const codec::MultipartPart& part : parsed.parts) {
    parts.push_back({part.name.value_or(""), part.filename, part.content_type, std::string(part.content)});
  }
  return parts;
}

const FakeRunner::Part* part_named(const std::vector<FakeRunner::Part>& parts, const std::string& name) {
  for (const auto& part : parts) {
    if (part.name == name) return &part;
  }
  return nullptr;
}

std::string llm_answer(bool openai) {
  return std::string("{\"id\":\"chatcmpl-7\",") + (openai ? "\"object\":\"chat.completion\"," : "") +
         "\"created\":1700000000,\"model\":\"served-model\",\"system_fingerprint\":\"fp\",\"choices\":[{\"index\":0,"
         "\"message\":{\"role\":\"assistant\",\"content\":\"hello there\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
         "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}";
}

std::string chunk(int k, bool last) {
  return "{\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"served-model\","
         "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word" + std::to_string(k) + " \"},\"finish_reason\":" +
         (last ? "\"stop\"" : "null") + "}]}";
}

}  // namespace

class FakeRunnerHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit FakeRunnerHandler(FakeRunner::Impl& impl) : impl_(impl) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    std::string body;
    Poco::StreamCopier::copyToString(request.stream(), body);
    if (request.getMethod() == "GET") return health(request.getURI(), response);
    FakeRunner::Received received{request.getMethod(), request.getURI(), request.getContentType(),
                                  request.get("Authorization", ""), body, parts_of(request.getContentType(), body),
                                  request.clientAddress().toString()};
    const InFlight counted(impl_);
    std::unique_lock lock(impl_.mutex);
    impl_.requests.push_back(received);
    const auto delay = impl_.delay;
    const int fail_status = impl_.fail_status;
    const std::string fail_body = impl_.fail_body;
    const bool drop = impl_.drop;
    const std::size_t drop_announced = impl_.drop_announced;
    const bool chunked = impl_.chunked;
    const FakeRunner::Stream stream = impl_.stream;
    const std::string image = impl_.image;
    impl_.changed.wait_for(lock, delay, [this] { return impl_.stopping; });
    lock.unlock();
    if (fail_status != 0) return answer(response, fail_status, fail_body);
    if (drop) {
      response.setContentLength64(static_cast<Poco::Int64>(drop_announced));
      response.setContentType("application/json");
      std::ostream& out = response.send();
      out << "{\"images\":";
      out.flush();
      static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket().shutdown();
      return;
    }
    const bool streamed = body.find("\"stream\":true") != std::string::npos;
    const bool openai = received.path == "/v1/chat/completions";
    if ((openai || received.path == "/llm") && streamed) return stream_answer(response, stream);
    if (chunked) return chunked_answer(response, answer_for(received, openai, image));
    answer(response, 200, answer_for(received, openai, image));
  }

 private:
  void health(const std::string& path, Poco::Net::HTTPServerResponse& response) {
    std::string state;
    {
      std::lock_guard lock(impl_.mutex);
      ++impl_.health_checks;
      state = impl_.health;
    }
    if (path == "/v1/models") {
      const bool ok = state == "OK" || state == "IDLE";
      return answer(response, ok ? 200 : 503, ok ? R"({"object":"list","data":[{"id":"served-model"}]})" : "{}");
    }
    if (state.empty()) return answer(response, 503, R"({"detail":{"msg":"down"}})");
    answer(response, 200, "{\"status\":\"" + state + "\"}");
  }

  static std::string answer_for(const FakeRunner::Received& received, bool openai, const std::string& image) {
    const std::string& path = received.path;
    if (openai || path == "/llm") return llm_answer(openai);
    if (path == "/text-to-image") {
      return "{\"images\":[{\"url\":\"" + data_url("image/png", image) + "\",\"seed\":11,\"nsfw\":false},{\"url\":\"" +
             data_url("image/jpeg", "jpeg bytes") + "\",\"seed\":12,\"nsfw\":false}]}";
    }
    const FakeRunner::Part* file = part_named(received.parts, path == "/audio-to-text" ? "audio" : "image");
    const std::string bytes = file ? file->content : "";
    if (path == "/image-to-image" || path == "/upscale") {
      return "{\"images\":[{\"url\":\"" + data_url("image/png", bytes) + "\",\"seed\":5,\"nsfw\":false}]}";
    }
    if (path == "/image-to-text") return "{\"text\":\"read " + std::to_string(bytes.size()) + " bytes\"}";
    if (path == "/audio-to-text") {
      return "{\"text\":\"heard " + std::to_string(bytes.size()) + " bytes\",\"chunks\":[]}";
    }
    if (path == "/text-to-speech") return "{\"audio\":{\"url\":\"" + data_url("audio/wav", "RIFF wav") + "\"}}";
    return "{}";
  }

  static void answer(Poco::Net::HTTPServerResponse& response, int status, const std::string& body) {
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    response.setContentType("application/json");
    response.sendBuffer(body.data(), body.size());
  }

  // A 200 answer without Content-Length: chunked transfer encoding, 64 KiB a chunk.
  static void chunked_answer(Poco::Net::HTTPServerResponse& response, const std::string& body) {
    response.setChunkedTransferEncoding(true);
    response.setContentType("application/json");
    std::ostream& out = response.send();
    for (std::size_t at = 0; at < body.size(); at += 65536) {
      out.write(body.data() + at, static_cast<std::streamsize>(std::min<std::size_t>(65536, body.size() - at)));
      out.flush();
    }
  }

  // Writes one event; false when the client has gone.
  bool event(std::ostream& out, const std::string& data) {
    out << "data: " << data << "\n\n";
    out.flush();
    return out.good();
  }

  void stream_answer(Poco::Net::HTTPServerResponse& response, const FakeRunner::Stream& stream) {
    response.setChunkedTransferEncoding(true);
    response.setContentType("text/event-stream");
    std::ostream& out = response.send();
    bool ok = true;
    for (int k = 0; ok && (stream.forever || k < stream.chunks); ++k) {
      const bool last = !stream.forever && k == stream.chunks - 1;
      if (k > 0) std::this_thread::sleep_for(stream.gap);
      if (last && stream.hold_last) {
        std::unique_lock lock(impl_.mutex);
        impl_.changed.wait_for(lock, std::chrono::seconds(20), [this] { return impl_.released || impl_.stopping; });
      }
      std::string data = k == 0 && stream.not_json ? "not json" : chunk(k, last && stream.finish_reason_last);
      if (k == 0 && data.size() < stream.first_line_bytes) data.append(stream.first_line_bytes - data.size(), ' ');
      ok = event(out, data);
      std::lock_guard lock(impl_.mutex);
      if (ok) ++impl_.chunks_sent;
    }
    if (ok && stream.done) ok = event(out, "[DONE]");
    if (!ok) {
      std::lock_guard lock(impl_.mutex);
      ++impl_.disconnects;
      impl_.changed.notify_all();
    }
  }

  FakeRunner::Impl& impl_;
};

class FakeRunnerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit FakeRunnerFactory(FakeRunner::Impl& impl) : impl_(impl) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new FakeRunnerHandler(impl_);
  }

 private:
  FakeRunner::Impl& impl_;
};

FakeRunner::FakeRunner(Poco::Net::Context::Ptr tls, std::chrono::milliseconds keep_alive)
    : impl_(std::make_unique<Impl>()) {
  std::signal(SIGPIPE, SIG_IGN);  // a client that left gives EPIPE, not a signal
  const Poco::Net::SocketAddress address("127.0.0.1", 0);
  impl_->https = !tls.isNull();
  Poco::Net::ServerSocket socket =
      tls ? Poco::Net::SecureServerSocket(address, 64, tls) : Poco::Net::ServerSocket(address);
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(32);
  params->setMaxQueued(64);
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(std::chrono::microseconds(keep_alive).count()));
  impl_->server = std::make_unique<Poco::Net::HTTPServer>(new FakeRunnerFactory(*impl_), socket, params);
  impl_->server->start();
}

FakeRunner::~FakeRunner() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    impl_->changed.notify_all();
  }
  impl_->server->stopAll(true);
}

int FakeRunner::port() const { return impl_->server->port(); }
std::string FakeRunner::url() const {
  return (impl_->https ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port());
}

void FakeRunner::set_health(std::string state) {
  std::lock_guard lock(impl_->mutex);
  impl_->health = std::move(state);
}
void FakeRunner::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(impl_->mutex);
  impl_->delay = delay;
}
void FakeRunner::set_failure(int status, std::string body) {
  std::lock_guard lock(impl_->mutex);
  impl_->fail_status = status;
  impl_->fail_body = std::move(body);
}
void FakeRunner::set_drop(bool drop, std::size_t announced) {
  std::lock_guard lock(impl_->mutex);
  impl_->drop = drop;
  impl_->drop_announced = announced;
}
void FakeRunner::set_chunked(bool chunked) {
  std::lock_guard lock(impl_->mutex);
  impl_->chunked = chunked;
}
void FakeRunner::set_stream(Stream stream) {
  std::lock_guard lock(impl_->mutex);
  impl_->stream = stream;
  impl_->released = false;
}
void FakeRunner::release_last() {
  std::lock_guard lock(impl_->mutex);
  impl_->released = true;
  impl_->changed.notify_all();
}
void FakeRunner::set_image(std::string png) {
  std::lock_guard lock(impl_->mutex);
  impl_->image = std::move(png);
}

std::vector<FakeRunner::Received> FakeRunner::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}
int FakeRunner::health_checks() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->health_checks;
}
int FakeRunner::chunks_sent() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->chunks_sent;
}
int FakeRunner::take_max_in_flight() {
  std::lock_guard lock(impl_->mutex);
  const int most = impl_->max_in_flight;
  impl_->max_in_flight = impl_->in_flight;
  return most;
}
int FakeRunner::disconnects() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->disconnects;
}
bool FakeRunner::wait_disconnects(int n, std::chrono::milliseconds limit) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, limit, [&] { return impl_->disconnects >= n; });
}

}  // namespace aipool::testing
