# Regression seeds of the simulator: one line per seed that once failed, named
# after what it broke. aipool_sim_regression(NAME SEED [extra aipool-sim args]).
# Swarm worlds are drawn from the seed (world_config.cc appends new draws only),
# so a seed keeps its world. The property tests' regressions are TESTs in
# tests/property (SimClockRegression).
function(aipool_sim_regression name seed)
  add_test(NAME sim_regression_${name} COMMAND aipool-sim --seed ${seed} ${ARGN} --quiet)
  aipool_scaled_timeout(timeout 120)
  set_tests_properties(sim_regression_${name} PROPERTIES LABELS sim TIMEOUT ${timeout})
endfunction()

# Default world, seed 1: found two simulator bugs while it was written: the world
# marked a joining worker live only after worker_joined returned, though the core
# may dispatch to it inside that call (a false SEL-4); and a check forbade a late
# report (SLOT-2) from dispatching waiting jobs into the slot it freed (ADM-2).
aipool_sim_regression(default_seed_1_dispatch_during_join 1)
# Swarm seed 10: churn scheduled before the heal kept the world busy past its
# liveness bound (a false liveness failure; the bound checks TIME-3 and SLOT-3).
aipool_sim_regression(swarm_seed_10_churn_after_heal 10 --swarm)
# Swarm seed 4 (three orchestrators, model lists): a worker whose keys are all
# outside an orchestrator's list is refused there (LIST-1, CONN-2) and was
# wrongly expected to reconnect (a false RECON-1 liveness failure).
aipool_sim_regression(swarm_seed_4_refused_by_model_list 4 --swarm)
