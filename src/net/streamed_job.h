// File: streamed_job.h
// The worker's side of a streamed llm job (spec/llm.md LLM-4): the executor's chunk
// sink, which opens the job's streamed result post at the first chunk, and the end
// of that post. A job that fails before its first chunk is posted as any failed job
// (RES-2), so that the orchestrator may still try another worker. prepare(), called
// as the job starts, makes the post's connection while the model computes, so that
// the first chunk does not wait for it.
//
// Contract: the sink is called from one thread at a time (the executor's contract,
// src/seams/executor.h); finish() after the executor's `done`; prepare() from any
// thread, blocking for the connection (at most the poster's timeout). Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "net/result_poster.h"
#include "net/result_stream.h"
#include "seams/executor.h"

namespace aipool::net {

// True for a job whose result streams: llm with "stream": true in its request.
bool is_streamed_job(const Key& key, std::string_view request_json);

class StreamedJob : public std::enable_shared_from_this<StreamedJob> {
 public:
  StreamedJob(ResultPoster& poster, ResultTarget target, TaskId task, std::string worker_id);
  ~StreamedJob();

  // ExecRequest::stream (holding this object alive): false once the post cannot go on (the orchestrator stopped
  // it, or it could not be opened).
  std::function<bool(std::string_view)> sink();
  // Connects to the orchestrator ahead of the first chunk (nothing is sent); does
  // nothing once a chunk went out or the job has ended.
  void prepare();
  // True when `result` ends the streamed post (a chunk went out, or the job
  // succeeded); false when it is to be posted as an ordinary result.
  bool carries(const ExecResult& result);
  // Ends the streamed post with `result` (REQUIRES: carries(result)).
  PostOutcome finish(const ExecResult& result);

 private:
  bool send(std::string_view chunk);
  bool open();

  ResultPoster& poster_;
  const ResultTarget target_;
  const TaskId task_;
  const std::string worker_id_;
  std::mutex mutex_;
  std::unique_ptr<ResultStreamPost> post_;
  std::unique_ptr<Poco::Net::HTTPClientSession> connected_;  // from prepare(), until open()
  bool ended_ = false;  // carries() was called: the job is over
  bool failed_ = false;
  std::string open_error_;
};

}  // namespace aipool::net
