#!/usr/bin/env bash
# cluster.sh N [OPTION...]: scale-out on one machine (README "Several orchestrators
# behind HAProxy"): N orchestrators, HAProxy in front of their HTTP ports, and workers
# that each register with all N (one process, several -orchAddr). Runs until Ctrl-C
# or SIGTERM, then stops everything it started.
#
#   --workers W      workers to start (default 2)
#   --models M       the workers' -aiModels, a file or pipeline:model_id[:warm[:capacity]],... (default: built-in
#                    CPU models)
#   --port P         HAProxy's public port (default 8936)
#   --base-port B    orchestrator i (1..N) listens on gRPC B+2i-2 and HTTP B+2i-1
#                    (default 18935)
#   --dir D          state folder (certificate, HAProxy config, logs, cluster.env);
#                    default a temporary one, removed at the end
#   --insecure       plain HTTP and gRPC everywhere (loopback tests); default: one
#                    generated certificate for all orchestrators, served to clients by
#                    HAProxy, verified by HAProxy towards the orchestrators and pinned
#                    by the workers
#   --orch-flag F    one extra flag for every orchestrator (repeatable)
#
# The HAProxy configuration it writes (haproxy.cfg in the state folder) is the one to
# copy: health checks on /healthz, retries only when a request never reached an
# orchestrator, and /jobs/<node>-... routed to the orchestrator named <node> (async
# job ids carry it, spec/async.md).
# When everything is up it prints "cluster ready" and writes cluster.env (ports, pids).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ "$#" -ge 1 ] || usage
count=$1
shift
[[ "$count" =~ ^[1-9][0-9]?$ ]] || { echo "cluster.sh: N must be 1..99 orchestrators (got \"$count\")" >&2; exit 2; }
workers=2 port=8936 base=18935 dir="" insecure="" orch_flags=()
models=text-to-image:builtin/text-render:true:2,upscale:builtin/bicubic:true:2
while [ "$#" -gt 0 ]; do
  case $1 in
    --workers) workers=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --base-port) base=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --insecure) insecure=1; shift ;;
    --orch-flag) orch_flags+=("$2"); shift 2 ;;
    *) echo "cluster.sh: unknown option $1" >&2; usage ;;
  esac
done
[[ "$workers" =~ ^[0-9]+$ ]] || { echo "cluster.sh: --workers must be a number (got \"$workers\")" >&2; exit 2; }
bin=${AIPOOL_BIN:-build/bin}
for b in aipool-orchestrator aipool-worker; do
  [ -x "$bin/$b" ] || { echo "cluster.sh: missing $bin/$b: run ./scripts/test.sh (or cmake --build build) first" >&2; exit 1; }
done
# Debian installs it in /usr/sbin, which a user's PATH often lacks.
haproxy=$(command -v haproxy || true)
[ -n "$haproxy" ] || [ ! -x /usr/sbin/haproxy ] || haproxy=/usr/sbin/haproxy
[ -n "$haproxy" ] || { echo "cluster.sh: haproxy is not installed: run ./scripts/setup.sh" >&2; exit 1; }

keep_dir=1
if [ -z "$dir" ]; then dir=$(mktemp -d); keep_dir=""; fi
mkdir -p "$dir"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$keep_dir" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

secret_file="$dir/secret"
[ -s "$secret_file" ] || { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret_file"; chmod 600 "$secret_file"; }

tls_orch=(-insecure) tls_worker=(-insecure) bind_tls="" server_tls="" scheme=http
if [ -z "$insecure" ]; then
  cert="$dir/cert.pem" key="$dir/key.pem"
  if [ ! -s "$cert" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj /CN=aipool-cluster \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$key" -out "$cert" 2>/dev/null
    chmod 600 "$key"
  fi
  cat "$cert" "$key" >"$dir/haproxy.pem"
  chmod 600 "$dir/haproxy.pem"
  fingerprint=sha256:$(openssl x509 -in "$cert" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
  tls_orch=(-tlsCert "$cert" -tlsKey "$key")
  tls_worker=(-orchCertFingerprint "$fingerprint")
  bind_tls=" ssl crt $dir/haproxy.pem"
  server_tls=" ssl verify required ca-file $cert verifyhost localhost"
  scheme=https
fi

# Orchestrators: node names o1..oN, which their async job ids carry.
orch_pids=() addrs=() servers="" job_rules="" job_backends=""
for i in $(seq 1 "$count"); do
  grpc=$((base + 2 * i - 2)) http=$((base + 2 * i - 1)) node="o$i"
  "$bin/aipool-orchestrator" -orchSecret "$secret_file" "${tls_orch[@]}" -nodeId "$node" \
    -serviceAddr "127.0.0.1:$grpc" -httpAddr "127.0.0.1:$http" "${orch_flags[@]}" >"$dir/$node.log" 2>&1 &
  pids+=("$!")
  orch_pids+=("$!")
  addrs+=("127.0.0.1:$grpc/$http")
  servers+="    server $node 127.0.0.1:$http check$server_tls"$'\n'
  job_rules+="    use_backend job_$node if { path_beg /jobs/$node- }"$'\n'
  job_backends+="backend job_$node"$'\n'"    server $node 127.0.0.1:$http track orchestrators/$node$server_tls"$'\n'
done
for i in $(seq 1 "$count"); do
  for _ in $(seq 1 100); do grep -q "ready" "$dir/o$i.log" && break; sleep 0.1; done
  grep -q "ready" "$dir/o$i.log" || { echo "cluster.sh: orchestrator o$i did not start:" >&2; tail -5 "$dir/o$i.log" >&2; exit 1; }
done

# HAProxy needs two descriptors per connection: stay within this shell's limit.
fds=$(ulimit -n)
[ "$fds" = unlimited ] && fds=40100
maxconn=$(( (fds - 100) / 2 ))
[ "$maxconn" -gt 20000 ] && maxconn=20000
cat >"$dir/haproxy.cfg" <<CFG
# Written by scripts/cluster.sh: HAProxy in front of $count aipool orchestrators.
global
    maxconn $maxconn

defaults
    mode http
    timeout connect 2s
    timeout client 20m        # a synchronous job may wait up to its deadline (900 s)
    timeout server 20m
    timeout http-request 30s
    timeout queue 5s
    # Retry on another orchestrator only when the request never reached one
    # (connection refused or failed): a delivered job is never sent twice.
    retries 3
    retry-on conn-failure
    option redispatch 1

frontend api
    bind 127.0.0.1:$port$bind_tls
    # Which orchestrator answered, for logs and tests.
    http-response set-header X-Aipool-Node %[srv_name]
    # Async jobs live on the orchestrator that took them: its node name leads the id.
$job_rules    default_backend orchestrators

backend orchestrators
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2
$servers
$job_backends
CFG
"$haproxy" -c -q -f "$dir/haproxy.cfg"
"$haproxy" -f "$dir/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
pids+=("$!")
haproxy_pid=$!

worker_pids=()
orch_addr=$(IFS=,; echo "${addrs[*]}")
for w in $(seq 1 "$workers"); do
  OMP_THREAD_LIMIT=1 "$bin/aipool-worker" -orchAddr "$orch_addr" -orchSecret "$secret_file" "${tls_worker[@]}" \
    -aiModels "$models" >"$dir/worker$w.log" 2>&1 &
  pids+=("$!")
  worker_pids+=("$!")
done

curl_tls=()
[ -z "$insecure" ] && curl_tls=(--cacert "$dir/cert.pem")
for _ in $(seq 1 200); do
  kill -0 "$haproxy_pid" 2>/dev/null || { echo "cluster.sh: HAProxy stopped:" >&2; tail -5 "$dir/haproxy.log" >&2; exit 1; }
  code=$(curl -s -o /dev/null -w '%{http_code}' "${curl_tls[@]}" "$scheme://127.0.0.1:$port/healthz" || true)
  [ "$code" = 200 ] && break
  sleep 0.1
done
[ "${code:-}" = 200 ] || { echo "cluster.sh: HAProxy does not answer /healthz:" >&2; tail -5 "$dir/haproxy.log" >&2; exit 1; }
if [ "$workers" -gt 0 ]; then
  for i in $(seq 1 "$count"); do
    n=0
    for _ in $(seq 1 300); do
      n=$(curl -s "${curl_tls[@]}" "$scheme://127.0.0.1:$((base + 2 * i - 1))/workers" | grep -o '"id":' | wc -l || true)
      [ "$n" -ge "$workers" ] && break
      for p in "${worker_pids[@]}"; do
        kill -0 "$p" 2>/dev/null || { echo "cluster.sh: a worker stopped:" >&2; tail -3 "$dir"/worker*.log >&2; exit 1; }
      done
      sleep 0.1
    done
    [ "$n" -ge "$workers" ] || { echo "cluster.sh: only $n of $workers workers registered with o$i" >&2; exit 1; }
  done
fi

{
  echo "CLUSTER_URL=$scheme://127.0.0.1:$port"
  echo "CLUSTER_ORCH_PIDS=\"${orch_pids[*]}\""
  echo "CLUSTER_ORCH_HTTP_PORTS=\"$(for i in $(seq 1 "$count"); do printf '%s ' $((base + 2 * i - 1)); done)\""
  echo "CLUSTER_WORKER_PIDS=\"${worker_pids[*]}\""
  echo "CLUSTER_HAPROXY_PID=$haproxy_pid"
  echo "CLUSTER_SECRET_FILE=$secret_file"
} >"$dir/cluster.env"
echo "cluster ready: $scheme://127.0.0.1:$port ($count orchestrators, $workers workers; state in $dir)"
[ -z "$insecure" ] && echo "clients trust $dir/cert.pem, e.g. curl --cacert $dir/cert.pem $scheme://127.0.0.1:$port/healthz"
# Wait in the shell's own wait, which a signal interrupts at once (a foreground sleep would not).
while :; do
  sleep 3600 &
  pids+=("$!")
  wait "$!" || true
done
