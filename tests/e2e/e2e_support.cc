#include "e2e_support.h"

#include <algorithm>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>
#include <thread>

namespace aipool::e2e {

std::string bin_path(const std::string& name) { return std::string(AIPOOL_BIN_DIR) + "/" + name; }

HttpReply http_request(int port, const std::string& method, const std::string& path,
                       const std::string& content_type, const std::string& body,
                       const std::map<std::string, std::string>& headers) {
  HttpReply reply;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(60, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!content_type.empty()) request.setContentType(content_type);
    for (const auto& [name, value] : headers) request.set(name, value);
    if (method == "POST") request.setContentLength64(static_cast<Poco::Int64>(body.size()));
    std::ostream& out = session.sendRequest(request);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    reply.status = static_cast<int>(response.getStatus());
    for (const auto& [name, value] : response) reply.headers[name] = value;
    std::ostringstream text;
    Poco::StreamCopier::copyStream(in, text);
    reply.body = text.str();
  } catch (const std::exception& e) {
    reply.status = -1;
    reply.body = e.what();
  }
  return reply;
}

std::string form_body(const std::vector<FormPart>& parts, std::string& content_type) {
  const std::string boundary = "e2e-boundary-7d1c";
  content_type = "multipart/form-data; boundary=" + boundary;
  std::string body;
  for (const FormPart& part : parts) {
    body += "--" + boundary + "\r\n";
    body += "Content-Disposition: form-data; name=\"" + part.name + "\"";
    if (!part.filename.empty()) {
      body += "; filename=\"" + part.filename + "\"\r\nContent-Type: " + part.content_type;
    }
    body += "\r\n\r\n" + part.value + "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  return body;
}

const std::string kJsonLogs[] = {"-logFormat", "json"};

Orchestrator start_orchestrator(const std::vector<std::string>& extra, int grpc_port, int http_port) {
  std::vector<std::string> argv = {bin_path("aipool-orchestrator"),
                                   "-orchSecret", "s3cret", "-insecure",
                                   "-serviceAddr", "127.0.0.1:" + std::to_string(grpc_port),
                                   "-httpAddr", "127.0.0.1:" + std::to_string(http_port)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  Orchestrator o;
  o.process = std::make_unique<ChildProcess>(argv);
  // LOG-2: with -logFormat json the readiness line is JSON too.
  const bool json = std::search(extra.begin(), extra.end(), std::begin(kJsonLogs), std::end(kJsonLogs)) != extra.end();
  const std::optional<std::string> ready = o.process->wait_for_line(
      json ? "{\"event\":\"ready\"" : "aipool-orchestrator ready", std::chrono::seconds(20));
  EXPECT_TRUE(ready.has_value()) << o.process->output();
  if (ready) {
    std::sscanf(ready->c_str(), json ? "{\"event\":\"ready\",\"grpc\":%d,\"http\":%d}" : "aipool-orchestrator ready grpc=%d http=%d",
                &o.grpc_port, &o.http_port);
  }
  return o;
}

std::unique_ptr<ChildProcess> start_worker(const std::vector<int>& grpc_ports, const std::string& models,
                                           const std::vector<std::string>& extra) {
  std::string addrs;
  for (int port : grpc_ports) {
    if (!addrs.empty()) addrs += ',';
    addrs += "127.0.0.1:";
    addrs += std::to_string(port);
  }
  std::vector<std::string> argv = {bin_path("aipool-worker"), "-orchAddr", addrs, "-orchSecret", "s3cret",
                                   "-insecure", "-aiModels", models};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<ChildProcess>(argv);
}

std::size_t live_workers(int http_port) {
  const HttpReply reply = http_request(http_port, "GET", "/workers");
  if (reply.status != 200) return 0;
  try {
    Poco::JSON::Parser parser;
    auto object = parser.parse(reply.body).extract<Poco::JSON::Object::Ptr>();
    return object->getArray("workers")->size();
  } catch (const std::exception&) {
    return 0;
  }
}

bool wait_for_workers(int http_port, std::size_t count, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (live_workers(http_port) == count) return true;
    // A bounded poll of the orchestrator's own view, not a guess at how long it takes.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return live_workers(http_port) == count;
}

int free_port() {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  return socket.address().port();
}

int run_to_exit(const std::vector<std::string>& argv, std::string& output) {
  ChildProcess p(argv);
  const std::optional<int> code = p.wait_exit(std::chrono::seconds(20));
  p.wait_for_line("\n", std::chrono::seconds(1));
  output = p.output();
  return code.value_or(-1);
}

}  // namespace aipool::e2e
