// File: durations.h
// Durations as the orchestrator's flags and its model list write them, and the
// per-pipeline form of -attemptTimeout and -jobDeadline (spec/core.md TIME-5..TIME-7,
// LIST-4).
//
// A duration is a number with an optional unit: `ms`, `s` (the default), `m` or `h`,
// e.g. "300s", "5m", "1500ms", "2h", "90", "0.5s". Durations must be above 0.
//
// Contract: pure functions; thread-safe. Errors are returned as text that says what is
// wrong with which item, never thrown.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "seams/types.h"

namespace aipool::codec {

// The duration in microseconds, or nullopt when `text` is not a duration above 0.
std::optional<Micros> parse_duration_text(std::string_view text);

// One duration per pipeline, indexed by the Pipeline's value.
using PipelineDurations = std::array<Micros, kPipelineCount>;

// TIME-7: the default attempt timeouts and job deadlines per pipeline.
PipelineDurations default_attempt_timeouts();
PipelineDurations default_job_deadlines();

struct DurationsError {
  std::string message;  // e.g. `-attemptTimeout: "llm=x": "x" is not a duration ...`
};

// TIME-6: `text` is a comma-separated list of `duration` (every pipeline) and
// `pipeline=duration` items; pipelines it does not set keep `defaults`. `flag` names
// the flag in error messages ("attemptTimeout").
std::variant<PipelineDurations, DurationsError> parse_pipeline_durations(std::string_view flag,
                                                                         std::string_view text,
                                                                         const PipelineDurations& defaults);

}  // namespace aipool::codec
