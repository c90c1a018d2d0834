// File: diagnostic_llm.h
// Internal to the diagnostic engine (diagnostic_executor.h): test/echo's answers
// for the llm pipeline (spec/llm.md LLM-7) and for text-to-speech. Test aids, not
// models.
//
// Contract: pure apart from the sleeps between streamed chunks and the wall clock
// read for `created`; thread-safe. Errors are failed ExecResults.
#pragma once

#include "seams/executor.h"

namespace aipool::exec::diagnostic {

// llm: the last message's content, word by word; streamed through request.stream
// when the job has one, `sleep_ms` between chunks (0..60000, default 0).
ExecResult echo_llm(const ExecRequest& request);

// text-to-speech: `audio.wav`, 16 kHz mono 16-bit silence of 10 ms per byte of
// `text` (at most 60 s), with {"audio":{"url":"audio.wav"}}.
ExecResult echo_speech(const ExecRequest& request);

}  // namespace aipool::exec::diagnostic
