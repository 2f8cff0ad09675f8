#!/usr/bin/env bash
# Measures one Riposte node in cluster mode (PostgreSQL + a three-server
# NATS JetStream cluster, replicas 3) against one node in single-node mode
# (SQLite + embedded NATS) on the same machine, with `riposte bench ingest`
# (which prints its own baseline and ratio), and the CPU time each process
# spent per accepted event: the cost model docs/benchmarks.md estimates node
# counts from. Run from the project root, as a user that may create a
# PostgreSQL database (127.0.0.1:5432, trust auth):
#   scripts/bench-cluster.sh [duration]
set -euo pipefail
dur=${1:-10s}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/riposte" ./cmd/riposte
# The nats-server of the version Riposte embeds.
go build -o "$work/nats-server" github.com/nats-io/nats-server/v2

ticks() { # utime+stime of a pid, in clock ticks
  awk '{print $14+$15}' "/proc/$1/stat"
}
pgticks() { # every postgres process together
  local t=0
  for p in $(pgrep -x postgres || true); do t=$((t + $(ticks "$p" 2>/dev/null || echo 0))); done
  echo $t
}
hz=$(getconf CLK_TCK)

start_node() { # name config
  "$work/riposte" serve --config "$2" > "$work/$1.log" 2>&1 &
  echo $! > "$work/$1.pid"
  for _ in $(seq 1 300); do
    curl -sf "http://$3/readyz" >/dev/null && return 0
    sleep 0.2
  done
  echo "$1 did not become ready:" >&2; tail -20 "$work/$1.log" >&2; exit 1
}

measure() { # name http syslog pids...
  local name=$1 http=$2 sys=$3; shift 3
  local before=() after=() pg0 pg1
  for p in "$@"; do before+=("$(ticks "$p")"); done
  pg0=$(pgticks)
  local out
  out=$(RIPOSTE_TOKEN=$(cat "$work/$name/data/admin.token") "$work/riposte" bench ingest --server "http://$http" --syslog "" --duration "$dur" --connections 4)
  # Detection: how long the detect consumer takes to drain what was
  # accepted; its rate is the accepted events over the phase plus the drain.
  local t0 drained=0 pending
  t0=$(date +%s.%N)
  for _ in $(seq 1 600); do
    pending=$(curl -sf "http://$http/metrics" | awk '/^riposte_consumer_pending\{/ && /consumer="detect"/ {s += $NF} END {print s+0}')
    if [ "${pending:-1}" = 0 ]; then drained=1; break; fi
    sleep 0.2
  done
  local drain
  drain=$(echo "$(date +%s.%N) - $t0" | bc)
  for p in "$@"; do after+=("$(ticks "$p")"); done
  pg1=$(pgticks)
  echo "== $name"
  echo "$out"
  # Accepted events: the durable rate times the phase's length.
  local rate secs events
  rate=$(echo "$out" | awk '/durable\)/ {for (i=1;i<=NF;i++) if ($i == "events/s") {print $(i-1); exit}}')
  secs=$(echo "$dur" | sed 's/s$//')
  events=$(echo "$rate * $secs" | bc)
  local i=0 total=0
  for p in "$@"; do
    local d=$(( ${after[$i]} - ${before[$i]} ))
    total=$((total + d))
    printf '  cpu %-10s %6.2f s\n' "$(cat /proc/$p/comm)" "$(echo "$d / $hz" | bc -l)"
    i=$((i+1))
  done
  local dpg=$((pg1 - pg0)); total=$((total + dpg))
  printf '  cpu %-10s %6.2f s\n' postgres "$(echo "$dpg / $hz" | bc -l)"
  printf '  cpu total  %6.2f s\n' "$(echo "$total / $hz" | bc -l)"
  printf '  cpu per accepted event: %.1f us (riposte %.1f us)\n' "$(echo "$total / $hz / $events * 1000000" | bc -l)" \
    "$(echo "(${after[0]} - ${before[0]}) / $hz / $events * 1000000" | bc -l)"
  if [ "$drained" = 1 ]; then
    printf '  detection drained %.1f s after the phase: %.0f events/s detected\n' "$drain" "$(echo "$events / ($secs + $drain)" | bc -l)"
  else
    echo "  detection did not drain within 120 s"
  fi
}

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Single node: SQLite and the embedded NATS.
mkdir -p "$work/single"
h1=127.0.0.1:$(port); s1=127.0.0.1:$(port); n1=127.0.0.1:$(port)
cat > "$work/single.yaml" <<YAML
data: $work/single/data
http: {listen: $h1}
nats: {listen: $n1}
ingest: {syslog: {listen: $s1}}
YAML
start_node single "$work/single.yaml" "$h1"

# Cluster mode: three NATS servers with JetStream and routes, PostgreSQL.
routes=()
for i in 1 2 3; do cp[$i]=$(port); rp[$i]=$(port); done
for i in 1 2 3; do routes+=("nats://127.0.0.1:${rp[$i]}"); done
urls=""
for i in 1 2 3; do
  mkdir -p "$work/nats$i"
  cat > "$work/nats$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:${cp[$i]}
jetstream { store_dir: "$work/nats$i", sync_interval: always }
cluster { name: bench, listen: 127.0.0.1:${rp[$i]}, routes: [$(IFS=,; echo "${routes[*]}")] }
CONF
  "$work/nats-server" -c "$work/nats$i.conf" > "$work/nats$i.log" 2>&1 &
  echo $! > "$work/nats$i.pid"
  urls+="${urls:+,}nats://127.0.0.1:${cp[$i]}"
done
db=riposte_bench_$$
psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db" >/dev/null
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS '$db' WITH (FORCE)" >/dev/null; rm -rf "$work"' EXIT
sleep 2
mkdir -p "$work/cluster"
h2=127.0.0.1:$(port); s2=127.0.0.1:$(port)
cat > "$work/cluster.yaml" <<YAML
data: $work/cluster/data
http: {listen: $h2}
nats: {url: "$urls", replicas: 3}
database: {url: "postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"}
cluster: {node: bench-1}
ingest: {syslog: {listen: $s2}}
YAML
start_node cluster "$work/cluster.yaml" "$h2"

natspids=$(cat "$work/nats1.pid" "$work/nats2.pid" "$work/nats3.pid")
for round in 1 2; do
  measure single "$h1" "$s1" "$(cat "$work/single.pid")"
  # shellcheck disable=SC2086
  measure cluster "$h2" "$s2" "$(cat "$work/cluster.pid")" $natspids
done
