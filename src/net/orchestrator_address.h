// File: orchestrator_address.h
// The worker's -orchAddr value: a comma-separated list of orchestrators, each
// `host[:grpcPort][/httpPort]` (README, "Running a worker").
//
// Contract: pure, thread-safe. Errors name the entry (0-based index) and say what is
// wrong, e.g. `orchAddr entry 1 "a:0": the port must be a number from 1 to 65535`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace aipool::net {

// One -orchAddr entry; host may be a name, an IPv4 address or an IPv6 address
// (given in brackets, kept without them). grpc_port defaults to 8935; http_port 0
// means "use WorkerConfig::default_http_port".
struct OrchestratorAddress {
  std::string host;
  std::uint16_t grpc_port = 8935;
  std::uint16_t http_port = 0;
  std::string grpc_target() const;  // host:grpc_port, an IPv6 host in brackets
};

// Parses a comma-separated -orchAddr value: the addresses in order, or the error.
std::variant<std::vector<OrchestratorAddress>, std::string> parse_orchestrator_addresses(std::string_view text);

}  // namespace aipool::net
