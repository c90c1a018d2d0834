// File: e2e_support.h
// Test aids for end-to-end tests: start aipool-orchestrator and aipool-worker as
// real processes on loopback with ephemeral ports, and talk HTTP to them.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "child_process.h"

namespace aipool::e2e {

struct HttpReply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

HttpReply http_request(int port, const std::string& method, const std::string& path,
                       const std::string& content_type = "", const std::string& body = "",
                       const std::map<std::string, std::string>& headers = {});

struct FormPart {
  FormPart(std::string name_, std::string value_, std::string filename_ = "",
           std::string content_type_ = "application/octet-stream")
      : name(std::move(name_)), value(std::move(value_)), filename(std::move(filename_)),
        content_type(std::move(content_type_)) {}
  std::string name;
  std::string value;
  std::string filename;  // non-empty: a file part
  std::string content_type;
};
// A multipart/form-data body; returns the Content-Type through `content_type`.
std::string form_body(const std::vector<FormPart>& parts, std::string& content_type);

struct Orchestrator {
  std::unique_ptr<ChildProcess> process;
  int grpc_port = 0;
  int http_port = 0;
};
// Starts an orchestrator on 127.0.0.1 (ports 0 unless given) with secret "s3cret" and
// extra flags; fails the test if it is not ready within 20 s.
Orchestrator start_orchestrator(const std::vector<std::string>& extra = {}, int grpc_port = 0,
                                int http_port = 0);
// Starts a worker connected to the given gRPC ports with `models` (inline -aiModels).
std::unique_ptr<ChildProcess> start_worker(const std::vector<int>& grpc_ports, const std::string& models,
                                           const std::vector<std::string>& extra = {});
// Polls GET /workers until `count` workers are live (bounded by `timeout`).
bool wait_for_workers(int http_port, std::size_t count, std::chrono::milliseconds timeout);
std::size_t live_workers(int http_port);
// A free TCP port on 127.0.0.1 (bound and released).
int free_port();
// Runs a program to its end (at most 20 s); its exit code (-1 if it did not end) and
// its output through `output`.
int run_to_exit(const std::vector<std::string>& argv, std::string& output);
std::string bin_path(const std::string& name);

}  // namespace aipool::e2e
