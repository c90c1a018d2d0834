#include "exec/model_router.h"

namespace aipool::exec {

void ModelRouter::add(const Key& served, Executor& executor, std::string engine_model) {
  routes_[served] = Route{&executor, std::move(engine_model)};
}

void ModelRouter::execute(const ExecRequest& request, std::function<void(ExecResult)> done) {
  auto it = routes_.find(request.key);
  if (it == routes_.end()) {
    ExecResult result;
    result.error = "model not served by this worker: " + key_name(request.key);
    done(std::move(result));
    return;
  }
  ExecRequest routed = request;
  routed.key.model = it->second.engine_model;
  it->second.executor->execute(routed, std::move(done));
}

}  // namespace aipool::exec
