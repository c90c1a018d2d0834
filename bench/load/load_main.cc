// aipool-load: drives a running orchestrator with N concurrent keep-alive clients
// and prints jobs per second and latency percentiles, each next to a baseline
// measured in the same run against the same server (GET /healthz round trips, or a
// plain POST of the same size), because these machines are shared and noisy.
//
// Modes:
//   aipool-load -port P [-clients 8] [-seconds 5]                 small jobs (test/echo)
//   aipool-load -port P -outputBytes 4194304 [-clients 1]         large outputs vs a plain POST
//   aipool-load -grpcPort G -idleWorkers 1000 -orchPid PID        memory per idle worker
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gflags/gflags.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <functional>
#include <iterator>
#include <string_view>
#include <vector>

#include "aipool.grpc.pb.h"
#include "core/broker.h"
#include "net/capabilities.h"
#include "io/http_body.h"
#include "../process_rss.h"

DEFINE_int32(port, 8936, "orchestrator HTTP port (with -idleWorkers: check that every stream is a live worker)");
DEFINE_int32(clients, 8, "concurrent keep-alive clients");
DEFINE_double(seconds, 5, "length of each measured phase");
DEFINE_string(model, "test/echo", "text-to-image model to ask for");
DEFINE_int64(outputBytes, 0, "ask test/echo for an output of this many bytes and compare with a plain POST");
DEFINE_int32(idleWorkers, 0, "open this many idle worker streams and report the orchestrator's memory per worker");
DEFINE_int32(grpcPort, 8935, "orchestrator gRPC port (for -idleWorkers)");
DEFINE_int32(orchPid, 0, "orchestrator process id (for -idleWorkers)");
DEFINE_string(secret, "s3cret", "orchestrator secret (for -idleWorkers)");

namespace {

using Clock = std::chrono::steady_clock;

struct Phase {
  std::vector<double> latencies_us;
  double seconds = 0;
  std::size_t errors = 0;
  double per_second() const { return latencies_us.size() / seconds; }
  double percentile(double p) const {
    if (latencies_us.empty()) return 0;
    std::vector<double> v = latencies_us;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
  }
};

// A reply as the tool keeps it: its first bytes, to check, and its length. The
// body goes through one reused buffer of kReplyChunk bytes and is not stored, as
// the server of the plain-POST baseline does not store what it receives: the job's
// figure is then not charged with the tool's own memory traffic.
constexpr std::size_t kReplyChunk = 256 * 1024;
constexpr std::size_t kReplyHead = 256;
struct Reply {
  std::vector<char> buffer = std::vector<char>(kReplyChunk);
  std::string head;
  std::size_t size = 0;
  void take(std::size_t n) {
    if (head.size() < kReplyHead) head.append(buffer.data(), std::min(n, kReplyHead - head.size()));
    size += n;
  }
};

// One request over a kept-alive session; false on any failure or non-200.
bool exchange(Poco::Net::HTTPClientSession& session, const std::string& method, const std::string& path,
              const std::string& type, const std::string& body, Reply& reply) {
  try {
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setKeepAlive(true);
    if (!type.empty()) request.setContentType(type);
    if (method == "POST") request.setContentLength64(static_cast<Poco::Int64>(body.size()));
    // Bodies move straight between memory and the socket, as the orchestrator and
    // the worker move theirs: the tool must not be the slow end of a large transfer.
    session.sendRequest(request).flush();
    aipool::io::write_body(session, body.data(), body.size());
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    reply.head.clear();
    reply.size = 0;
    if (response.hasContentLength()) {
      const auto length = static_cast<std::size_t>(response.getContentLength64());
      while (reply.size < length) {
        const std::size_t want = std::min(kReplyChunk, length - reply.size);
        const std::size_t got = aipool::io::read_body_exactly(session, reply.buffer.data(), want);
        reply.take(got);
        if (got != want) return false;
      }
    } else {
      while (in.read(reply.buffer.data(), static_cast<std::streamsize>(kReplyChunk)), in.gcount() > 0) {
        reply.take(static_cast<std::size_t>(in.gcount()));
      }
    }
    return response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK;
  } catch (const std::exception&) {
    session.reset();
    return false;
  }
}

// `check` judges each 200 answer; one it refuses counts as an error.
using ReplyCheck = std::function<bool(const Reply&)>;

Phase run_phase(int clients, const std::string& method, const std::string& path, const std::string& type,
                const std::string& body, const ReplyCheck& check) {
  std::vector<Phase> per(static_cast<std::size_t>(clients));
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(FLAGS_port));
      session.setKeepAlive(true);
      session.setTimeout(Poco::Timespan(60, 0));
      Reply reply;
      Phase& mine = per[static_cast<std::size_t>(c)];
      while (!stop.load(std::memory_order_relaxed)) {
        const auto t0 = Clock::now();
        const bool ok = exchange(session, method, path, type, body, reply) && check(reply);
        const auto t1 = Clock::now();
        if (ok) {
          mine.latencies_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        } else {
          ++mine.errors;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(FLAGS_seconds));
  stop = true;
  for (auto& t : threads) t.join();
  Phase all;
  all.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (const Phase& p : per) {
    all.latencies_us.insert(all.latencies_us.end(), p.latencies_us.begin(), p.latencies_us.end());
    all.errors += p.errors;
  }
  return all;
}

bool health_ok(const Reply& r) { return r.head.rfind("{\"status\":\"ok\"", 0) == 0; }
bool image_ok(const Reply& r) { return r.head.rfind("{\"images\":[{\"url\":\"data:", 0) == 0; }

void print(const char* name, const Phase& p) {
  std::printf("%-28s %9.0f req/s  p50 %8.1f us  p90 %8.1f us  p99 %8.1f us  (%zu ok, %zu errors)\n", name,
              p.per_second(), p.percentile(0.5), p.percentile(0.9), p.percentile(0.99), p.latencies_us.size(),
              p.errors);
}

using aipool::bench::rss_kib;

// Opens idle worker streams, one channel (one TCP connection) each, as real workers do.
// The live workers that GET /workers lists (one "id" member each).
std::size_t live_workers() {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(FLAGS_port));
  session.setTimeout(Poco::Timespan(30, 0));
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/workers", Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  const std::string body(std::istreambuf_iterator<char>(in), {});
  std::size_t count = 0;
  for (std::size_t at = body.find("\"id\":"); at != std::string::npos; at = body.find("\"id\":", at + 1)) ++count;
  return count;
}

int idle_workers() {
  if (FLAGS_orchPid <= 0) {
    std::fprintf(stderr, "-idleWorkers needs -orchPid\n");
    return 2;
  }
  const long before = rss_kib(FLAGS_orchPid);
  struct Stream {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<net::Transcoder::Stub> stub;
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<net::NotifyAIJob>> reader;
  };
  std::vector<std::unique_ptr<Stream>> streams;
  net::RegisterRequest request;
  aipool::net::fill_register_request(request, FLAGS_secret,
                                     {aipool::Advert{aipool::Key{aipool::Pipeline::kTextToImage, "idle/model"}, 1}},
                                     "aipool-load");
  for (int i = 0; i < FLAGS_idleWorkers; ++i) {
    auto s = std::make_unique<Stream>();
    grpc::ChannelArguments args;
    args.SetInt("aipool.load.channel", i);  // a distinct channel (and connection) per worker
    s->channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(FLAGS_grpcPort),
                                           grpc::InsecureChannelCredentials(), args);
    s->stub = net::Transcoder::NewStub(s->channel);
    s->reader = s->stub->RegisterAIWorker(&s->context, request);
    s->reader->WaitForInitialMetadata();
    streams.push_back(std::move(s));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the orchestrator settle
  if (!gflags::GetCommandLineFlagInfoOrDie("port").is_default) {
    // The figure counts only if the orchestrator took every stream as a live worker.
    const std::size_t live = live_workers();
    std::printf("live workers: %zu\n", live);
    if (live < static_cast<std::size_t>(FLAGS_idleWorkers)) {
      std::fprintf(stderr, "only %zu of %d idle workers are live: the orchestrator refused the others\n", live,
                   FLAGS_idleWorkers);
      return 1;
    }
  }
  const long after = rss_kib(FLAGS_orchPid);
  std::printf("idle workers: %d  orchestrator RSS before %ld KiB, after %ld KiB: %.1f KiB per worker (goal < 100)\n",
              FLAGS_idleWorkers, before, after,
              static_cast<double>(after - before) / std::max(1, FLAGS_idleWorkers));
  for (auto& s : streams) s->context.TryCancel();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_idleWorkers > 0) return idle_workers();
  if (FLAGS_outputBytes > 0) {
    const std::string job = "{\"model_id\":\"" + FLAGS_model + "\",\"prompt\":\"p\",\"output_bytes\":" +
                            std::to_string(FLAGS_outputBytes) + "}";
    const std::string plain(static_cast<std::size_t>(FLAGS_outputBytes), 'x');
    const Phase base = run_phase(FLAGS_clients, "POST", "/healthz", "application/octet-stream", plain, health_ok);
    // The answer holds the output as a data: URL: 4/3 of its bytes at least.
    const auto min_size = static_cast<std::size_t>(FLAGS_outputBytes / 3 * 4);
    const Phase jobs = run_phase(FLAGS_clients, "POST", "/text-to-image", "application/json", job,
                                 [&](const Reply& r) { return image_ok(r) && r.size >= min_size; });
    print("plain POST (baseline)", base);
    print("job with large output", jobs);
    std::printf("ratio p50 job / p50 plain POST: %.2f (goal <= 2)\n", jobs.percentile(0.5) / base.percentile(0.5));
    return jobs.errors == 0 ? 0 : 1;
  }
  const std::string job = "{\"model_id\":\"" + FLAGS_model + "\",\"prompt\":\"p\"}";
  const Phase health = run_phase(FLAGS_clients, "GET", "/healthz", "", "", health_ok);
  const Phase jobs = run_phase(FLAGS_clients, "POST", "/text-to-image", "application/json", job, image_ok);
  print("GET /healthz (baseline)", health);
  print("POST /text-to-image", jobs);
  std::printf("clients %d: %.0f jobs/s = %.1f %% of the /healthz rate (goal >= 20 %% at 16 clients); "
              "p50 job / p50 healthz: %.2f (goal <= 4 at 1 client)\n",
              FLAGS_clients, jobs.per_second(), 100.0 * jobs.per_second() / health.per_second(),
              jobs.percentile(0.5) / health.percentile(0.5));
  return jobs.errors == 0 ? 0 : 1;
}
