// File: stream_status.h
// How the worker reads the end of a registration stream (src/net/worker_node.h):
// whether the orchestrator refused it (CONN-1, CONN-2: retrying cannot help) and the
// status as text for a log line or the fatal error.
//
// Contract: pure functions, thread-safe. The status message comes from the
// orchestrator: status_text() escapes it for a log line (LOG-1).
#pragma once

#include <string>

namespace grpc {
class Status;
}

namespace aipool::net {

// The orchestrator refused this worker: the message `invalid secret` or `zero
// capacity`, or the code UNAUTHENTICATED, PERMISSION_DENIED, FAILED_PRECONDITION or
// INVALID_ARGUMENT.
bool is_refusal(const grpc::Status& status);

// The code's name and the message, e.g. `UNAVAILABLE: failed to connect`, the message
// made safe for a log line (codec::log_safe).
std::string status_text(const grpc::Status& status);

}  // namespace aipool::net
