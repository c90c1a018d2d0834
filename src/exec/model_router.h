// File: model_router.h
// Routes each served (pipeline, model_id) to the executor that runs it, under the
// executor's own model name. This lets an operator serve a model id of their choice
// with any engine: the aiModels entry's `executor` field names the engine model
// (e.g. serve "ByteDance/SDXL-Lightning" with "test/echo"); without it the entry's
// model_id is the engine model.
//
// Contract: add() before the worker starts; then read-only and thread-safe.
#pragma once

#include <map>
#include <string>

#include "seams/executor.h"

namespace aipool::exec {

class ModelRouter final : public Executor {
 public:
  // REQUIRES: executor.supports({served.pipeline, engine_model}); `executor` outlives this.
  void add(const Key& served, Executor& executor, std::string engine_model);

  bool supports(const Key& key) const override { return routes_.contains(key); }
  // Runs the job on its executor with the key's model replaced by the engine model;
  // the request JSON is passed unchanged. An unknown key fails at once.
  void execute(const ExecRequest& request, std::function<void(ExecResult)> done) override;

 private:
  struct Route {
    Executor* executor = nullptr;
    std::string engine_model;
  };
  std::map<Key, Route> routes_;
};

}  // namespace aipool::exec
