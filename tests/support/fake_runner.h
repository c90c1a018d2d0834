// File: fake_runner.h
// Test aid, used by tests only: a stand-in for the model servers that the external
// runner engine fronts (spec/runners.md): go-livepeer's ai-runner container (POST
// /<pipeline>, GET /health) and an OpenAI-compatible server (POST
// /v1/chat/completions, GET /v1/models). It serves 127.0.0.1 on a port of its own,
// one thread per connection (Poco::Net::HTTPServer), and answers with canned results
// that echo what it was sent (an image-to-image answer is the image it received, as a
// data: URL), so that tests can check both directions.
//
// The test controls it: the health state (flapping), a delay before each answer, a
// forced error status, a connection dropped mid-answer, event streams of N chunks with
// a gap (and a last chunk held until the test releases it), streams without [DONE].
// It records every request (method, path, headers, body, multipart parts) and counts
// the streams whose client went away before their end.
//
// Contract: every method is thread-safe. The destructor stops the server and waits
// for its connections; a held chunk is released then.
#pragma once

#include <Poco/Net/Context.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace aipool::testing {

class FakeRunner {
 public:
  struct Part {
    std::string name;
    std::optional<std::string> filename;
    std::string content_type;
    std::string content;
  };
  struct Received {
    std::string method;
    std::string path;
    std::string content_type;
    std::string authorization;  // the Authorization header, "" when none
    std::string body;
    std::vector<Part> parts;    // a multipart/form-data body's parts
    std::string peer;           // the client's address and port: one per connection
  };
  struct Stream {
    int chunks = 3;                          // chunks of content before the end
    std::chrono::milliseconds gap{0};        // between two chunks
    bool done = true;                        // end with data: [DONE]
    bool finish_reason_last = true;          // the last chunk carries finish_reason "stop"
    bool hold_last = false;                  // the last chunk waits for release_last()
    bool forever = false;                    // chunks until the client goes (gap apart)
    bool not_json = false;                   // the first chunk is not a JSON object
    std::size_t first_line_bytes = 0;        // > 0: the first chunk's line padded to this length
  };

  // `tls`: a server context, for a runner that speaks https (url() then says https).
  // `keep_alive`: how long the runner keeps an idle connection open before it closes
  // it (uvicorn, which serves ai-runner, closes them after 5 s).
  explicit FakeRunner(Poco::Net::Context::Ptr tls = nullptr,
                      std::chrono::milliseconds keep_alive = std::chrono::seconds(10));
  ~FakeRunner();
  FakeRunner(const FakeRunner&) = delete;
  FakeRunner& operator=(const FakeRunner&) = delete;

  int port() const;
  std::string url() const;  // http://127.0.0.1:<port>, or https://

  // GET /health answers {"status": <state>} (200); "" answers 503. GET /v1/models
  // answers 200 while the state is OK or IDLE, else 503.
  void set_health(std::string state);
  // Waited before every POST answer.
  void set_delay(std::chrono::milliseconds delay);
  // Every POST answered with this status and body (status 0: normal answers again).
  void set_failure(int status, std::string body);
  // Every POST answered with a head announcing `announced` bytes, 10 of them, then a
  // closed connection.
  void set_drop(bool drop, std::size_t announced = 1000);
  // Every whole POST answer sent with chunked transfer encoding instead of a Content-Length.
  void set_chunked(bool chunked);
  // How /llm and /v1/chat/completions stream when asked to ("stream": true).
  void set_stream(Stream stream);
  // Lets a held last chunk (Stream::hold_last) go.
  void release_last();
  // The image every text-to-image answer carries (PNG bytes).
  void set_image(std::string png);

  std::vector<Received> requests() const;  // POSTs, in order
  int health_checks() const;
  int chunks_sent() const;     // stream chunks written so far (all streams)
  int disconnects() const;     // streams whose client went before their end
  // The most POSTs answered at once since the last call (or the start); starts the
  // next window at the number being answered now.
  int take_max_in_flight();
  // Waits (at most `limit`) until disconnects() >= n.
  bool wait_disconnects(int n, std::chrono::milliseconds limit) const;

 private:
  struct Impl;
  friend class InFlight;
  friend class FakeRunnerHandler;
  friend class FakeRunnerFactory;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aipool::testing
