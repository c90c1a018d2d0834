// End-to-end tests: real aipool-orchestrator and aipool-worker processes on loopback,
// ephemeral ports, bounded waits. Workers serve the test/ models (the diagnostic executor).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>
#include <vector>

#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "e2e_support.h"
#include "codec/base64.h"
#include "media/image_codec.h"

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

const std::string kAllEcho =
    "text-to-image:test/echo:true:2,image-to-image:test/echo:true:2,upscale:test/echo:true:2,"
    "image-to-text:test/echo:true:2,audio-to-text:test/echo:true:2";

Poco::JSON::Object::Ptr parse(const std::string& body) {
  Poco::JSON::Parser parser;
  return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
}

HttpReply post_json(int port, const std::string& path, const std::string& json) {
  return http_request(port, "POST", path, "application/json", json);
}

// The ids of the workers that joined, in order, from the orchestrator's "worker <id>
// joined" lines (CONN-6: ids are not 1, 2, ...).
std::vector<std::string> joined_ids(const ChildProcess& orch) {
  std::vector<std::string> ids;
  const std::string out = orch.output();
  for (std::size_t at = out.find("worker "); at != std::string::npos; at = out.find("worker ", at + 1)) {
    const std::size_t digits = at + 7;
    std::size_t end = digits;
    while (end < out.size() && out[end] >= '0' && out[end] <= '9') ++end;
    if (end > digits && out.compare(end, 8, " joined ") == 0) ids.push_back(out.substr(digits, end - digits));
  }
  return ids;
}

// The value of `key=` (up to the next space) in the first output line holding `needle`;
// empty when there is none.
std::string field_of(const ChildProcess& process, const std::string& needle, const std::string& key) {
  const std::string out = process.output();
  const std::size_t line = out.find(needle);
  if (line == std::string::npos) return "";
  const std::size_t start = out.rfind('\n', line) == std::string::npos ? 0 : out.rfind('\n', line) + 1;
  const std::size_t at = out.find(key + "=", start);
  if (at == std::string::npos || at > out.find('\n', line)) return "";
  const std::size_t value = at + key.size() + 1;
  return out.substr(value, out.find_first_of(" \n", value) - value);
}

// A real PNG of w x h pixels (the orchestrator checks images before dispatch, API-12).
std::string tiny_png(std::uint32_t w = 4, std::uint32_t h = 3, int compression_level = 6) {
  std::vector<std::uint8_t> pixels(std::size_t{w} * h * 3);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 7);
  return media::encode_png(pixels.data(), w, h, 3, {compression_level});
}

HttpReply post_form(int port, const std::string& path, const std::vector<FormPart>& parts) {
  std::string content_type;
  const std::string body = form_body(parts, content_type);
  return http_request(port, "POST", path, content_type, body);
}

// 0.1 s of 16 kHz 16-bit mono silence as a WAV file written by hand (the orchestrator
// probes audio before dispatch, ASR-2).
std::string tiny_wav() {
  const auto le = [](unsigned v, int bytes) {
    std::string out;
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
    return out;
  };
  const unsigned data = 3200;
  return "RIFF" + le(36 + data, 4) + "WAVEfmt " + le(16, 4) + le(1, 2) + le(1, 2) + le(16000, 4) + le(32000, 4) +
         le(2, 2) + le(16, 2) + "data" + le(data, 4) + std::string(data, '\0');
}

class EndToEnd : public ::testing::Test {
 protected:
  void start(const std::string& models, std::size_t workers, const std::vector<std::string>& orch_flags = {}) {
    orch_ = start_orchestrator(orch_flags);
    ASSERT_GT(orch_.http_port, 0);
    for (std::size_t i = 0; i < workers; ++i) workers_.push_back(start_worker({orch_.grpc_port}, models));
    ASSERT_TRUE(wait_for_workers(orch_.http_port, workers, 20s)) << orch_.process->output();
  }
  Orchestrator orch_;
  std::vector<std::unique_ptr<ChildProcess>> workers_;
};

// API-1, API-6, WIRE-4, RES-2, RES-3: each of the five pipelines goes client -> orchestrator -> worker -> /aiResults -> client.
TEST_F(EndToEnd, EveryPipelineRoundTrips) {
  start(kAllEcho, 1);
  const int port = orch_.http_port;

  HttpReply t2i = post_json(port, "/text-to-image", R"({"model_id":"test/echo","prompt":"a red fox","num_images_per_prompt":2})");
  ASSERT_EQ(t2i.status, 200) << t2i.body;
  auto images = parse(t2i.body)->getArray("images");
  ASSERT_EQ(images->size(), 2u);
  for (unsigned i = 0; i < 2; ++i) {
    auto item = images->getObject(i);
    EXPECT_TRUE(item->has("url") && item->has("seed") && item->has("nsfw"));
    EXPECT_EQ(item->getValue<std::string>("url").rfind("data:", 0), 0u);
  }

  const std::string png = tiny_png();
  for (const std::string path : {"/image-to-image", "/upscale"}) {
    HttpReply r = post_form(port, path, {{"model_id", "test/echo"}, {"prompt", "x"},
                                         {"image", png, "in.png", "image/png"}});
    ASSERT_EQ(r.status, 200) << path << ": " << r.body;
    auto item = parse(r.body)->getArray("images")->getObject(0);
    EXPECT_NE(item->getValue<std::string>("url").find(";base64,"), std::string::npos);
  }
  HttpReply i2t = post_form(port, "/image-to-text", {{"model_id", "test/echo"}, {"image", png, "in.png", "image/png"}});
  ASSERT_EQ(i2t.status, 200) << i2t.body;
  EXPECT_TRUE(parse(i2t.body)->has("text"));
  HttpReply a2t = post_form(port, "/audio-to-text", {{"model_id", "test/echo"}, {"audio", tiny_wav(), "a.wav", "audio/wav"}});
  ASSERT_EQ(a2t.status, 200) << a2t.body;
  auto a2t_obj = parse(a2t.body);
  EXPECT_TRUE(a2t_obj->has("text"));
  EXPECT_TRUE(a2t_obj->getArray("chunks") != nullptr);
}

// SEL-3, API-10: two workers with equal capacity share sequential jobs evenly, as the orchestrator's log shows.
TEST_F(EndToEnd, TwoWorkersShareJobsRoundRobin) {
  start("text-to-image:test/echo:true:1", 2);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(post_json(orch_.http_port, "/text-to-image", R"({"model_id":"test/echo","prompt":"p"})").status, 200);
  }
  ASSERT_EQ(orch_.process->wait_for_count("outcome=ok attempts", 10, 10s), 10u);  // the job lines
  const std::vector<std::string> ids = joined_ids(*orch_.process);
  ASSERT_EQ(ids.size(), 2u) << orch_.process->output();
  const std::size_t w1 = orch_.process->count_lines("worker=" + ids[0] + " ms=");
  const std::size_t w2 = orch_.process->count_lines("worker=" + ids[1] + " ms=");
  EXPECT_EQ(w1, 5u) << orch_.process->output();
  EXPECT_EQ(w2, 5u);
}

// API-2, API-4, API-7, RETRY-5, ASR-2: bad input is refused with 400 naming the field, before any dispatch.
TEST_F(EndToEnd, BadInputGetsClearErrors) {
  start(kAllEcho, 1);
  const int port = orch_.http_port;
  HttpReply r = post_json(port, "/text-to-image", R"({"model_id":"test/echo","width":"wide","prompt":"p"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("'width' must be an integer"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"detail\""), std::string::npos);
  r = post_json(port, "/text-to-image", R"({"model_id":"test/echo"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("missing required field 'prompt'"), std::string::npos) << r.body;
  r = post_json(port, "/text-to-image", "{not json");
  EXPECT_EQ(r.status, 400);
  r = post_form(port, "/upscale", {{"model_id", "test/echo"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("'image'"), std::string::npos) << r.body;
  // API-12: an image that is not a whole PNG or JPEG is refused with the reason.
  r = post_form(port, "/upscale", {{"model_id", "test/echo"}, {"image", "GIF89a-bytes", "a.gif", "image/gif"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("field 'image': not a PNG or JPEG image"), std::string::npos) << r.body;
  // ASR-2: audio that is not WAV, FLAC or OGG is refused with the reason.
  r = post_form(port, "/audio-to-text", {{"model_id", "test/echo"}, {"audio", "RIFF-wave-bytes", "a.wav", "audio/wav"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("field 'audio': not a readable WAV, FLAC or OGG audio file"), std::string::npos) << r.body;
  // Without model_id the only offered model is used.
  r = post_json(port, "/text-to-image", R"({"prompt":"p"})");
  EXPECT_EQ(r.status, 200) << r.body;
  // A model nobody offers: 503 with Retry-After.
  r = post_json(port, "/text-to-image", R"({"model_id":"nope","prompt":"p"})");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers["Retry-After"], "1");
  EXPECT_NE(r.body.find("no worker offers pipeline text-to-image with model nope"), std::string::npos);
  // No job reached the worker for the bad requests: only the one good request was logged as a job.
  EXPECT_EQ(orch_.process->wait_for_count("outcome=ok", 1, 10s), 1u);
}

// CONN-5, RETRY-1: kill -9 of the worker running a job: the job completes on the other worker; the dead worker's capacity is gone.
TEST_F(EndToEnd, KilledWorkerJobFailsOver) {
  start("text-to-image:test/sleep:true:1", 2);
  // The first job goes to the first worker in rotation.
  std::thread client([&] {
    HttpReply r = post_json(orch_.http_port, "/text-to-image", R"({"model_id":"test/sleep","prompt":"p","sleep_ms":3000})");
    EXPECT_EQ(r.status, 200) << r.body;
  });
  // Wait until a worker has the attempt, then kill that worker's process.
  std::string busy_id;  // CONN-6: a 63-bit number, read whole
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (busy_id.empty() && std::chrono::steady_clock::now() < deadline) {
    auto list = parse(http_request(orch_.http_port, "GET", "/workers").body)->getArray("workers");
    for (unsigned i = 0; list && i < list->size(); ++i) {
      if (list->getObject(i)->getValue<int>("open_attempts") == 1) busy_id = list->getObject(i)->get("id").toString();
    }
    if (busy_id.empty()) std::this_thread::sleep_for(20ms);
  }
  ASSERT_FALSE(busy_id.empty());
  const std::string as_worker = "as worker " + busy_id + ";";
  workers_[0]->wait_for_count("as worker", 1, 10s);
  workers_[1]->wait_for_count("as worker", 1, 10s);
  ChildProcess* busy = workers_[0]->count_lines(as_worker) > 0 ? workers_[0].get() : workers_[1].get();
  ASSERT_EQ(busy->count_lines(as_worker), 1u);
  busy->send_signal(SIGKILL);
  client.join();
  ASSERT_TRUE(wait_for_workers(orch_.http_port, 1, 10s));
  auto keys = parse(http_request(orch_.http_port, "GET", "/workers").body)->getArray("keys");
  EXPECT_EQ(keys->getObject(0)->getValue<int>("capacity"), 1);
  EXPECT_EQ(keys->getObject(0)->getValue<int>("in_use"), 0);
  EXPECT_GE(orch_.process->wait_for_count("attempts=2", 1, 10s), 1u) << orch_.process->output();
}

// ADM-2, WIRE-1: a job waiting for a slot goes to a worker that joins meanwhile, as the first message
// on its fresh stream (sent after the stream's initial metadata, which carries the worker's id).
// No wall-clock bound is asserted: the waiting job is shown to be queued before the
// second worker starts and to be run by that worker, while the first worker's only
// slot stays taken by a 60 s job whose client is gone only at the end.
TEST_F(EndToEnd, WaitingJobGoesToAJoiningWorker) {
  start("text-to-image:test/sleep:true:1", 1);
  // The busy job's client: a raw connection that sends its request and never reads.
  const std::string busy_body = R"({"model_id":"test/sleep","prompt":"p","sleep_ms":60000})";
  const std::string busy_request = "POST /text-to-image HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                   "Content-Type: application/json\r\nContent-Length: " +
                                   std::to_string(busy_body.size()) + "\r\n\r\n" + busy_body;
  Poco::Net::StreamSocket busy(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(orch_.http_port)));
  busy.sendBytes(busy_request.data(), static_cast<int>(busy_request.size()));
  // Polls the only key's `field` in /workers until it is `want` (bounded).
  const auto wait_key_field = [&](const std::string& field, int want) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    int value = -1;
    while (value != want && std::chrono::steady_clock::now() < deadline) {
      auto keys = parse(http_request(orch_.http_port, "GET", "/workers").body)->getArray("keys");
      if (keys && keys->size() == 1) value = keys->getObject(0)->getValue<int>(field);
      if (value != want) std::this_thread::sleep_for(10ms);
    }
    return value;
  };
  ASSERT_EQ(wait_key_field("in_use", 1), 1);
  std::thread waiting([&] {
    HttpReply r = post_json(orch_.http_port, "/text-to-image", R"({"model_id":"test/sleep","prompt":"q","sleep_ms":1})");
    EXPECT_EQ(r.status, 200) << r.body;
  });
  const int queued = wait_key_field("waiting", 1);
  EXPECT_EQ(queued, 1) << "the second job never waited for a slot";
  workers_.push_back(start_worker({orch_.grpc_port}, "text-to-image:test/sleep:true:1"));
  waiting.join();
  // The joining worker ran it; the first worker is still on the busy job.
  EXPECT_EQ(workers_[1]->wait_for_count("outcome=\"ok\"", 1, 5s), 1u) << workers_[1]->output();
  EXPECT_EQ(workers_[0]->wait_for_count("outcome=\"ok\"", 1, 0ms), 0u) << workers_[0]->output();
  busy.close();  // the client goes away: its job is cancelled (API-9)
}

// RECON-1: after the orchestrator restarts on the same ports, workers reconnect within the backoff bound and serve again.
TEST_F(EndToEnd, WorkersReconnectAfterOrchestratorRestart) {
  const int grpc = free_port();
  const int http = free_port();
  orch_ = start_orchestrator({}, grpc, http);
  workers_.push_back(start_worker({grpc}, "text-to-image:test/echo:true:1"));
  ASSERT_TRUE(wait_for_workers(http, 1, 20s));
  orch_.process->send_signal(SIGTERM);
  ASSERT_TRUE(orch_.process->wait_exit(10s).has_value());
  orch_ = start_orchestrator({}, grpc, http);
  // First waits: 0.5, 0.75, 1.125 s ... jittered by at most 50 %: 10 s covers several tries.
  ASSERT_TRUE(wait_for_workers(http, 1, 15s)) << workers_[0]->output();
  EXPECT_EQ(post_json(http, "/text-to-image", R"({"model_id":"test/echo","prompt":"p"})").status, 200);
}

// CONN-1: a worker with the wrong secret exits with code 2 (a configuration error) saying so.
TEST_F(EndToEnd, WrongSecretIsFatalForTheWorker) {
  orch_ = start_orchestrator();
  auto worker = std::make_unique<ChildProcess>(std::vector<std::string>{
      bin_path("aipool-worker"), "-orchAddr", "127.0.0.1:" + std::to_string(orch_.grpc_port), "-orchSecret",
      "wrong", "-insecure", "-aiModels", "text-to-image:test/echo:true:1"});
  const std::optional<int> code = worker->wait_exit(20s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 2);
  EXPECT_NE(worker->output().find("invalid secret"), std::string::npos) << worker->output();
  EXPECT_EQ(live_workers(orch_.http_port), 0u);
}

// The TaskID and worker of the `n`th attempt sent (1-based), from the orchestrator's
// debug log line `attempt task=T job=J <pipeline> <model> worker=W sent`.
std::pair<std::string, std::string> sent_attempt(ChildProcess& orch, std::size_t n) {
  if (orch.wait_for_count(" sent", n, 10s) < n) return {};
  std::size_t seen = 0;
  std::istringstream lines(orch.output());
  for (std::string line; std::getline(lines, line);) {
    if (line.find("attempt task=") == std::string::npos || line.find(" sent") == std::string::npos) continue;
    if (++seen != n) continue;
    const std::size_t t = line.find("task=") + 5;
    const std::size_t w = line.find("worker=") + 7;
    return {line.substr(t, line.find(' ', t) - t), line.substr(w, line.find(' ', w) - w)};
  }
  return {};
}

// RES-1, RES-4, RES-5, RES-6, TASK-2, TASK-4: forged, unknown and malformed uploads; a
// malformed one fails the attempt over; a seed-format post (no Aipool-Worker-Id)
// with the secret and the TaskID completes the job.
TEST_F(EndToEnd, ResultUploadsAreChecked) {
  start("text-to-image:test/sleep:true:1", 2, {"-v", "4"});
  const int port = orch_.http_port;
  std::thread client([&] {
    HttpReply r = post_json(port, "/text-to-image", R"({"model_id":"test/sleep","prompt":"p","sleep_ms":4000})");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(codec::base64_encode("FROM-THE-SEED-FORMAT-POST")), std::string::npos) << r.body;
  });
  const auto [task, busy] = sent_attempt(*orch_.process, 1);
  ASSERT_FALSE(task.empty()) << orch_.process->output();
  const std::map<std::string, std::string> auth = {{"Authorization", "Livepeer-Transcoder-1.0"},
                                                   {"Credentials", "s3cret"}};
  const std::string ok_body = R"({"JobType":0,"TaskID":)" + task + R"(,"Data":"eyJpbWFnZXMiOltdfQ==","Err":""})";
  HttpReply r = http_request(port, "POST", "/aiResults", "application/json", ok_body,
                             {{"Authorization", "Livepeer-Transcoder-1.0"}, {"Credentials", "wrong"}});
  EXPECT_EQ(r.status, 401);
  r = http_request(port, "POST", "/aiResults", "application/json", ok_body, {{"Authorization", "Livepeer-Transcoder-1.0"}});
  EXPECT_EQ(r.status, 401);
  r = http_request(port, "POST", "/aiResults", "application/json", R"({"JobType":0,"TaskID":999,"Data":"","Err":"x"})",
                   {{"Authorization", "Livepeer-Transcoder-1.0"}, {"Credentials", "s3cret"}, {"Aipool-Worker-Id", busy}});
  EXPECT_EQ(r.status, 404);
  // TASK-2: from another worker: 409; an id that is no worker id: 400.
  auto with_worker = [&](const std::string& id) {
    std::map<std::string, std::string> headers = auth;
    headers["Aipool-Worker-Id"] = id;
    return headers;
  };
  const std::vector<std::string> ids = joined_ids(*orch_.process);  // CONN-6: read, not guessed
  ASSERT_EQ(ids.size(), 2u) << orch_.process->output();
  r = http_request(port, "POST", "/aiResults", "application/json", ok_body, with_worker(ids[0] == busy ? ids[1] : ids[0]));
  EXPECT_EQ(r.status, 409) << r.body;
  r = http_request(port, "POST", "/aiResults", "application/json", ok_body, with_worker("x1"));
  EXPECT_EQ(r.status, 400) << r.body;
  // Still running after the forged posts.
  EXPECT_NE(http_request(port, "GET", "/workers").body.find("\"open_attempts\":1"), std::string::npos);
  // Malformed body for the task: 400, and the job fails over to the other worker.
  std::map<std::string, std::string> malformed = with_worker(busy);
  malformed["TaskId"] = task;
  r = http_request(port, "POST", "/aiResults", "application/json", "{broken", malformed);
  EXPECT_EQ(r.status, 400);
  // RES-1: the second attempt is completed by a post in the seed's format.
  const auto [second, second_worker] = sent_attempt(*orch_.process, 2);
  ASSERT_FALSE(second.empty()) << orch_.process->output();
  EXPECT_NE(second, task);
  EXPECT_NE(second_worker, busy);
  std::string form_type;
  const std::string form =
      "--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"o.png\"\r\n\r\n"
      "FROM-THE-SEED-FORMAT-POST\r\n--b\r\nContent-Type: application/json\r\n\r\n"
      "{\"images\":[{\"url\":\"o.png\",\"seed\":1,\"nsfw\":false}]}\r\n--b--\r\n";
  std::map<std::string, std::string> seed_headers = auth;
  seed_headers["TaskId"] = second;
  r = http_request(port, "POST", "/aiResults", "multipart/mixed; boundary=b", form, seed_headers);
  EXPECT_EQ(r.status, 200) << r.body;
  client.join();
  EXPECT_GE(orch_.process->wait_for_count("attempts=2", 1, 10s), 1u) << orch_.process->output();
}

// API-8, API-12: an input above gRPC's default 4 MiB works; one above the configured byte or pixel limit gets 413.
TEST_F(EndToEnd, LargeInputsAndTheLimit) {
  start("upscale:test/echo:true:1", 1, {"-maxMessageBytes", std::to_string(12 << 20), "-maxPixels", "3000000"});
  const std::string big = tiny_png(1500, 1400, 0);  // a stored (uncompressed) PNG of 6.3 MB
  ASSERT_GT(big.size(), std::size_t{6} << 20);
  HttpReply r = post_form(orch_.http_port, "/upscale", {{"model_id", "test/echo"}, {"image", big, "big.png", "image/png"}});
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 200);
  // The answer (8.4 MB, written in chunks as it is encoded) holds the echoed file whole.
  const std::string prefix = "{\"images\":[{\"url\":\"data:image/png;base64,";
  ASSERT_EQ(r.body.rfind(prefix, 0), 0u) << r.body.substr(0, 200);
  const std::size_t end = r.body.find('"', prefix.size());
  ASSERT_NE(end, std::string::npos);
  const std::optional<std::string> echoed =
      aipool::codec::base64_decode(std::string_view(r.body).substr(prefix.size(), end - prefix.size()));
  ASSERT_TRUE(echoed.has_value());
  EXPECT_TRUE(*echoed == big) << "the echoed file differs from the input (" << echoed->size() << " bytes)";
  EXPECT_EQ(r.body.substr(end), "\",\"seed\":0,\"nsfw\":false}]}");
  r = post_form(orch_.http_port, "/upscale", {{"model_id", "test/echo"}, {"image", tiny_png(2000, 2000), "a.png", "image/png"}});
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("the image is 2000x2000 = 4000000 pixels, above the limit of 3000000 pixels"), std::string::npos)
      << r.body;
  // Above the limit: the answer is 413 from the headers alone, before any body byte is sent.
  Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(orch_.http_port)));
  const std::string head = "POST /upscale HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                           "Content-Length: " + std::to_string(13 << 20) + "\r\n\r\n";
  socket.sendBytes(head.data(), static_cast<int>(head.size()));
  socket.setReceiveTimeout(Poco::Timespan(20, 0));
  char answer[512] = {0};
  const int n = socket.receiveBytes(answer, sizeof answer - 1);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(answer, 12), "HTTP/1.1 413") << answer;
  EXPECT_NE(std::string(answer).find("larger than the limit"), std::string::npos) << answer;
}

// bench/: the load tool runs against real processes, checks every answer, and
// reports small jobs, large outputs and idle workers; refused idle workers fail it.
TEST_F(EndToEnd, LoadToolMeasuresRealProcesses) {
  start("text-to-image:test/echo:true:4", 1);
  const std::string http = std::to_string(orch_.http_port);
  const std::string grpc = std::to_string(orch_.grpc_port);
  const std::string pid = std::to_string(orch_.process->pid());
  {
    ChildProcess load({bin_path("aipool-load"), "-port", http, "-clients", "2", "-seconds", "0.5"});
    ASSERT_EQ(load.wait_exit(60s), 0) << load.output();
    EXPECT_EQ(load.count_lines(", 0 errors)"), 2u) << load.output();
    EXPECT_EQ(load.count_lines("clients 2: "), 1u) << load.output();
  }
  {
    ChildProcess load({bin_path("aipool-load"), "-port", http, "-clients", "1", "-seconds", "0.5", "-outputBytes",
                       "300000"});
    ASSERT_EQ(load.wait_exit(60s), 0) << load.output();
    EXPECT_EQ(load.count_lines(", 0 errors)"), 2u) << load.output();
    EXPECT_EQ(load.count_lines("ratio p50 job / p50 plain POST"), 1u) << load.output();
  }
  {
    ChildProcess load({bin_path("aipool-load"), "-grpcPort", grpc, "-port", http, "-idleWorkers", "10", "-orchPid", pid});
    ASSERT_EQ(load.wait_exit(60s), 0) << load.output();
    EXPECT_EQ(load.count_lines("live workers: 11"), 1u) << load.output();
    EXPECT_EQ(load.count_lines("idle workers: 10 "), 1u) << load.output();
  }
  {
    ChildProcess load({bin_path("aipool-load"), "-grpcPort", grpc, "-port", http, "-idleWorkers", "10", "-orchPid", pid,
                       "-secret", "wrong"});
    EXPECT_EQ(load.wait_exit(60s), 1) << load.output();
    EXPECT_EQ(load.count_lines("the orchestrator refused the others"), 1u) << load.output();
  }
}

// MULTI-1, MULTI-2: one worker registered with two orchestrators serves both.
TEST_F(EndToEnd, OneWorkerServesTwoOrchestrators) {
  Orchestrator a = start_orchestrator();
  Orchestrator b = start_orchestrator();
  auto worker = start_worker({a.grpc_port, b.grpc_port}, "text-to-image:test/echo:true:2");
  ASSERT_TRUE(wait_for_workers(a.http_port, 1, 20s));
  ASSERT_TRUE(wait_for_workers(b.http_port, 1, 20s));
  EXPECT_EQ(post_json(a.http_port, "/text-to-image", R"({"model_id":"test/echo","prompt":"a"})").status, 200);
  EXPECT_EQ(post_json(b.http_port, "/text-to-image", R"({"model_id":"test/echo","prompt":"b"})").status, 200);
}

// The seed's example requests, adapted to our ports, work as written with curl.
TEST_F(EndToEnd, SeedExampleRequestsWithCurl) {
  // The seed's model ids, served by the diagnostic executor through the entries' "executor" field.
  const std::string models = std::string(::testing::TempDir()) + "/seed-models.json";
  FILE* m = fopen(models.c_str(), "w");
  fputs(R"([{"pipeline":"text-to-image","model_id":"ByteDance/SDXL-Lightning","executor":"test/echo"},)"
        R"({"pipeline":"upscale","model_id":"stabilityai/stable-diffusion-x4-upscaler","executor":"test/echo"}])",
        m);
  fclose(m);
  start(models, 1);
  const std::string port = std::to_string(orch_.http_port);
  const std::string t2i = "curl -s -o /dev/null -w '%{http_code}' -X POST \"http://127.0.0.1:" + port +
                          "/text-to-image\" -H \"Content-Type: application/json\" -d '{\"model_id\":\"ByteDance/SDXL-Lightning\","
                          "\"prompt\":\"Cool dog at a rave party\",\"width\": 1024,\"height\": 1024}'";
  FILE* pipe = popen(t2i.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char code[8] = {0};
  ASSERT_NE(fgets(code, sizeof code, pipe), nullptr);
  pclose(pipe);
  EXPECT_STREQ(code, "200");
  const std::string image = std::string(::testing::TempDir()) + "/seed-example.png";
  FILE* f = fopen(image.c_str(), "wb");
  const std::string png = tiny_png();
  fwrite(png.data(), 1, png.size(), f);
  fclose(f);
  const std::string up = "curl -s -o /dev/null -w '%{http_code}' -X POST \"http://127.0.0.1:" + port +
                         "/upscale\" -F model_id=stabilityai/stable-diffusion-x4-upscaler -F image=@" + image;
  pipe = popen(up.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char code2[8] = {0};
  ASSERT_NE(fgets(code2, sizeof code2, pipe), nullptr);
  pclose(pipe);
  EXPECT_STREQ(code2, "200");
}

}  // namespace
}  // namespace aipool::e2e

namespace aipool::e2e {
namespace {

// API-11: the orchestrator logs one line per attempt and per job; neither process ever logs the secret.
TEST(EndToEndLogs, OneLinePerAttemptAndNeverTheSecret) {
  Orchestrator orch = start_orchestrator();
  auto worker = start_worker({orch.grpc_port}, "text-to-image:test/echo:true:1,text-to-image:test/fail:true:1");
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s));
  EXPECT_EQ(post_json(orch.http_port, "/text-to-image", R"({"model_id":"test/echo","prompt":"p"})").status, 200);
  EXPECT_EQ(post_json(orch.http_port, "/text-to-image", R"({"model_id":"test/fail","prompt":"p"})").status, 502);
  ASSERT_TRUE(orch.process->wait_for_line("outcome=all workers failed", 10s).has_value()) << orch.process->output();
  const std::vector<std::string> ids = joined_ids(*orch.process);
  ASSERT_EQ(ids.size(), 1u) << orch.process->output();
  const std::string echo = " job=1 text-to-image test/echo worker=" + ids[0] + " outcome=result";
  const std::string fail = " job=2 text-to-image test/fail worker=" + ids[0] + " outcome=worker error";
  EXPECT_EQ(orch.process->wait_for_count(echo, 1, 10s), 1u) << orch.process->output();
  EXPECT_EQ(orch.process->wait_for_count(fail, 1, 10s), 1u);
  EXPECT_FALSE(field_of(*orch.process, echo, "attempt task").empty());  // TASK-1: each line names its TaskID
  EXPECT_NE(field_of(*orch.process, echo, "attempt task"), field_of(*orch.process, fail, "attempt task"));
  EXPECT_EQ(orch.process->count_lines("worker " + ids[0] + " joined"), 1u);
  worker->send_signal(SIGTERM);
  ASSERT_TRUE(worker->wait_exit(20s).has_value());
  ASSERT_TRUE(orch.process->wait_for_line("worker " + ids[0] + " left", 10s).has_value());
  EXPECT_EQ(orch.process->output().find("s3cret"), std::string::npos);
  EXPECT_EQ(worker->output().find("s3cret"), std::string::npos);
}

// FLAG-1, FLAG-2: flags take one or two dashes; a bad flag or config stops the start with a message naming it.
TEST(EndToEndFlags, BadFlagsFailAtStartNamingThem) {
  const std::string orch = bin_path("aipool-orchestrator");
  {
    ChildProcess ok({orch, "--orchSecret=x", "--serviceAddr=127.0.0.1:0", "-httpAddr", "127.0.0.1:0", "--insecure"});
    EXPECT_TRUE(ok.wait_for_line("aipool-orchestrator ready", 20s).has_value()) << ok.output();
  }
  std::string out;
  EXPECT_EQ(run_to_exit({orch, "-orchSecret", "x", "-bogus", "1"}, out), 2);
  EXPECT_NE(out.find("bogus"), std::string::npos) << out;
  EXPECT_EQ(run_to_exit({orch, "-orchSecret", "x", "-attemptTimeout", "5x"}, out), 2);
  EXPECT_NE(out.find("-attemptTimeout"), std::string::npos) << out;
  EXPECT_EQ(run_to_exit({orch, "-orchSecret", "x", "-aiModels", "no-such-pipeline:m"}, out), 2);
  EXPECT_NE(out.find("aiModels"), std::string::npos) << out;
  EXPECT_EQ(run_to_exit({orch}, out), 2);
  EXPECT_NE(out.find("-orchSecret is required"), std::string::npos) << out;
  EXPECT_EQ(run_to_exit({bin_path("aipool-worker"), "-orchAddr", "127.0.0.1:1", "-orchSecret", "x", "-aiModels",
                         "text-to-image:nobody/serves-this"},
                        out),
            2);
  EXPECT_NE(out.find("no executor serves"), std::string::npos) << out;
}

// FLAG-3: with a wildcard HTTP address no results URL is sent, and the worker posts to -orchHttpPort.
TEST(EndToEndFlags, ResultsUrlFallsBackToTheWorkersFlag) {
  const int http = free_port();
  ChildProcess wildcard({bin_path("aipool-orchestrator"), "-orchSecret", "s3cret", "-insecure", "-serviceAddr", "127.0.0.1:0",
                         "-httpAddr", "0.0.0.0:" + std::to_string(http)});
  const std::optional<std::string> ready = wildcard.wait_for_line("aipool-orchestrator ready", 20s);
  ASSERT_TRUE(ready.has_value()) << wildcard.output();
  int grpc = 0;
  int http_seen = 0;
  std::sscanf(ready->c_str(), "aipool-orchestrator ready grpc=%d http=%d", &grpc, &http_seen);
  EXPECT_NE(wildcard.output().find("not sent"), std::string::npos);
  auto worker = start_worker({grpc}, "text-to-image:test/echo:true:1", {"-orchHttpPort", std::to_string(http)});
  ASSERT_TRUE(wait_for_workers(http, 1, 20s));
  EXPECT_TRUE(worker->wait_for_line("results go to http://127.0.0.1:" + std::to_string(http) + "/aiResults", 5s)
                  .has_value())
      << worker->output();
  EXPECT_EQ(post_json(http, "/text-to-image", R"({"model_id":"test/echo","prompt":"p"})").status, 200);
}

}  // namespace
}  // namespace aipool::e2e

namespace aipool::e2e {
namespace {

// API-9, SLOT-1, SLOT-2: a client that disconnects cancels its job; the worker's slot stays held until it reports.
TEST(EndToEndCancel, ClientDisconnectCancelsTheJob) {
  Orchestrator orch = start_orchestrator();
  auto worker = start_worker({orch.grpc_port}, "text-to-image:test/sleep:true:1");
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s));
  {
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(orch.http_port)));
    const std::string body = R"({"model_id":"test/sleep","prompt":"p","sleep_ms":1500})";
    const std::string request = "POST /text-to-image HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    socket.sendBytes(request.data(), static_cast<int>(request.size()));
    ASSERT_TRUE(orch.process->wait_for_line("attempt task=1", 1s).has_value() ||
                http_request(orch.http_port, "GET", "/workers").body.find("\"open_attempts\":1") != std::string::npos);
    socket.close();  // the client goes away mid-job
  }
  ASSERT_TRUE(orch.process->wait_for_line("outcome=cancelled", 10s).has_value()) << orch.process->output();
  EXPECT_EQ(orch.process->wait_for_count("outcome=job cancelled", 1, 10s), 1u) << orch.process->output();
  // The worker is still running it: its slot is held by the abandoned attempt...
  const std::string during = http_request(orch.http_port, "GET", "/workers").body;
  EXPECT_NE(during.find("\"abandoned_attempts\":1"), std::string::npos) << during;
  // ...until its late report releases it (answered 409).
  ASSERT_TRUE(worker->wait_for_line("post=409", 10s).has_value()) << worker->output();
  const std::string after = http_request(orch.http_port, "GET", "/workers").body;
  EXPECT_NE(after.find("\"abandoned_attempts\":0"), std::string::npos) << after;
  EXPECT_NE(after.find("\"in_use\":0"), std::string::npos) << after;
}

}  // namespace
}  // namespace aipool::e2e

namespace aipool::e2e {
namespace {

// TIME-3, API-7: a job past its deadline gets 504 while the worker still runs it.
TEST(EndToEndTime, JobDeadlineGives504) {
  Orchestrator orch = start_orchestrator({"-jobDeadline", "400ms"});
  auto worker = start_worker({orch.grpc_port}, "text-to-image:test/sleep:true:1");
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s));
  HttpReply r = post_json(orch.http_port, "/text-to-image", R"({"model_id":"test/sleep","prompt":"p","sleep_ms":3000})");
  EXPECT_EQ(r.status, 504);
  EXPECT_NE(r.body.find("job deadline exceeded after 0.4 s"), std::string::npos) << r.body;
}

// LIST-1, LIST-3, API-10: with a model list the orchestrator offers only listed models and reports their prices.
TEST(EndToEndList, ModelListFiltersAndReportsPrices) {
  const std::string models = std::string(::testing::TempDir()) + "/orch-models.json";
  FILE* m = fopen(models.c_str(), "w");
  fputs(R"([{"pipeline":"text-to-image","model_id":"test/echo","price_per_unit":4768371,"pixels_per_unit":1,"currency":"USD"}])", m);
  fclose(m);
  Orchestrator orch = start_orchestrator({"-aiModels", models});
  auto worker = start_worker({orch.grpc_port}, "text-to-image:test/echo:true:2,upscale:test/echo:true:1");
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s));
  ASSERT_TRUE(orch.process->wait_for_line("ignored upscale/test/echo: not in the orchestrator's model list", 5s))
      << orch.process->output();
  const std::string workers = http_request(orch.http_port, "GET", "/workers").body;
  EXPECT_NE(workers.find("\"gpus\":["), std::string::npos) << workers;  // MODEL-19 (none on a CPU worker)
  EXPECT_NE(workers.find("\"price_per_unit\":4768371"), std::string::npos) << workers;
  EXPECT_NE(workers.find("\"currency\":\"USD\""), std::string::npos);
  EXPECT_EQ(workers.find("\"pipeline\":\"upscale\""), std::string::npos) << workers;
  std::string type;
  const std::string body = form_body({{"model_id", "test/echo"}, {"image", tiny_png(), "a.png"}}, type);
  EXPECT_EQ(http_request(orch.http_port, "POST", "/upscale", type, body).status, 503);
}

}  // namespace
}  // namespace aipool::e2e

namespace aipool::e2e {
namespace {

// STOP-2: the first SIGTERM lets the running job finish and be delivered, then the
// worker exits 0; a second signal a second later exits at once with 128 + 15.
TEST(EndToEndStop, WorkerDrainsOnTheFirstSignalAndQuitsOnTheSecond) {
  Orchestrator orch = start_orchestrator();
  auto worker = start_worker({orch.grpc_port}, "text-to-image:test/sleep:true:1", {"-v", "4"});
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s));
  HttpReply reply;
  std::thread client([&] {
    reply = post_json(orch.http_port, "/text-to-image", R"({"model_id":"test/sleep","prompt":"p","sleep_ms":1500})");
  });
  // The worker holds the job (not merely the orchestrator's slot count: the job may
  // still be on the wire, and a signal then would find no running job).
  ASSERT_TRUE(worker->wait_for_line("admitted", 10s).has_value()) << worker->output();
  worker->send_signal(SIGTERM);
  const std::optional<int> code = worker->wait_exit(20s);
  client.join();
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << worker->output();
  EXPECT_EQ(reply.status, 200) << reply.body;  // the running job was finished and posted
  EXPECT_NE(worker->output().find("stopping: taking no new jobs; 1 running job"), std::string::npos)
      << worker->output();

  // The first worker's leave is seen before the second joins, so the next job and
  // the `in_use` below are the second worker's.
  const std::vector<std::string> ids = joined_ids(*orch.process);
  ASSERT_EQ(ids.size(), 1u) << orch.process->output();
  ASSERT_TRUE(orch.process->wait_for_line("worker " + ids[0] + " left", 10s).has_value()) << orch.process->output();
  auto second = start_worker({orch.grpc_port}, "text-to-image:test/sleep:true:1", {"-v", "4"});
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s));
  std::thread long_client([&] {
    post_json(orch.http_port, "/text-to-image", R"({"model_id":"test/sleep","prompt":"p","sleep_ms":20000})");
  });
  ASSERT_TRUE(second->wait_for_line("admitted", 10s).has_value()) << second->output();
  second->send_signal(SIGTERM);
  ASSERT_TRUE(second->wait_for_line("stopping: taking no new jobs; 1 running job", 10s).has_value())
      << second->output();
  std::this_thread::sleep_for(1100ms);  // STOP-2 counts a signal within a second as the same one
  second->send_signal(SIGTERM);
  const std::optional<int> second_code = second->wait_exit(5s);  // long before the 20 s job ends
  ASSERT_TRUE(second_code.has_value()) << second->output();
  EXPECT_EQ(*second_code, 128 + SIGTERM);
  orch.process->send_signal(SIGTERM);  // the client's job fails now instead of running out its time
  long_client.join();
}

// STOP-1: SIGTERM stops a busy orchestrator every time, with code 0, whichever of its
// threads (HTTP handlers, gRPC, timers) the signal reaches.
TEST(EndToEndStop, OrchestratorStopsOnEverySignal) {
  for (int round = 0; round < 4; ++round) {
    Orchestrator orch = start_orchestrator();
    auto worker = start_worker({orch.grpc_port}, "text-to-image:test/echo:true:4");
    ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s));
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back([&] {
        while (!stop) post_json(orch.http_port, "/text-to-image", R"({"model_id":"test/echo","prompt":"p"})");
      });
    }
    ASSERT_TRUE(orch.process->wait_for_count("outcome=ok", 20, 20s) >= 20u) << orch.process->output();
    orch.process->send_signal(round % 2 == 0 ? SIGTERM : SIGINT);
    const std::optional<int> code = orch.process->wait_exit(10s);
    stop = true;
    for (std::thread& t : clients) t.join();
    ASSERT_TRUE(code.has_value()) << "round " << round << " did not stop:\n" << orch.process->output();
    EXPECT_EQ(*code, 0) << orch.process->output();
    EXPECT_TRUE(orch.process->output().find("stopping (SIG") != std::string::npos) << orch.process->output();
    worker->send_signal(SIGKILL);
  }
}

}  // namespace
}  // namespace aipool::e2e
