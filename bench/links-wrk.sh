#!/usr/bin/env bash
# `/l/{code}` under load: N tracked links (default 200), then `wrk --latency` against random
# short links of `earshot serve`, once per click-counting strategy (a database UPSERT per click,
# then in-memory counters flushed every second), side by side in one run. After each run the
# clicks in the store are compared with the redirects wrk received, so a strategy that loses
# counts shows up. Prints a table; record it in docs/BENCHMARKS.md.
#
#   bench/links-wrk.sh [LINKS] [DURATION] [CONNECTIONS]     e.g. bench/links-wrk.sh 200 20s 64
#
# Needs: a release build (cargo build --release -p earshot-cli), curl, and wrk (installed from
# Debian with apt-get when missing).
set -euo pipefail

LINKS="${1:-200}"
DURATION="${2:-20s}"
CONNECTIONS="${3:-64}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
EARSHOT="${EARSHOT:-${CARGO_TARGET_DIR:-$ROOT/target}/release/earshot}"
ADDR="127.0.0.1:${PORT:-18081}"
WORK="$(mktemp -d -t earshot-links-bench-XXXXXX)"
export EARSHOT_DIR="$WORK/ws"
SERVER_PID=""
BROWSER="Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
stop_server() {
  if [ -n "$SERVER_PID" ]; then kill -INT "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)..." >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi
[ -x "$EARSHOT" ] || { echo "no release binary at $EARSHOT: cargo build --release -p earshot-cli" >&2; exit 1; }

mkdir -p "$EARSHOT_DIR"
"$EARSHOT" init >/dev/null
cp "$EARSHOT_DIR/earshot.toml" "$WORK/base.toml"
"$EARSHOT" campaign add "Bench" --goal sales --budget 100 >/dev/null
echo "creating $LINKS links..." >&2
: > "$WORK/paths"
for i in $(seq 1 "$LINKS"); do
  url="$("$EARSHOT" link create "https://shop.example/item/$i?ref=bench" --campaign Bench --utm-source bench 2>/dev/null)"
  echo "/l/${url##*/l/}" >> "$WORK/paths"
done
{
  echo 'local paths = {}'
  while read -r p; do echo "table.insert(paths, \"$p\")"; done < "$WORK/paths"
  echo 'request = function() return wrk.format("GET", paths[math.random(#paths)]) end'
} > "$WORK/random.lua"

total_clicks() { # people + bots over every link
  "$EARSHOT" link list | awk -F'\t' '{split($2, h, " "); split($3, b, " "); s += h[1] + b[1]} END {print s + 0}'
}

run() { # strategy
  cp "$WORK/base.toml" "$EARSHOT_DIR/earshot.toml"
  printf '\n[links]\nclick_counting = "%s"\n' "$1" >> "$EARSHOT_DIR/earshot.toml"
  local before after out rps p50 p90 p99 requests non3xx
  before="$(total_clicks)"
  "$EARSHOT" serve --addr "$ADDR" --no-poll > "$WORK/serve-$1.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -sf "http://$ADDR/healthz" >/dev/null && break; sleep 0.2; done
  out="$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "User-Agent: $BROWSER" -s "$WORK/random.lua" "http://$ADDR")"
  stop_server   # SIGINT: graceful shutdown writes the last batched counts
  after="$(total_clicks)"
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
  p90="$(awk '$1 == "90%" {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  requests="$(awk '/requests in/ {print $1}' <<<"$out")"
  non3xx="$(awk '/Non-2xx or 3xx/ {print $5}' <<<"$out")"
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p90" "$p99" "$requests" "$((after - before))"
  [ -z "$non3xx" ] || echo "  ($non3xx answers were not 2xx/3xx)" >&2
}

echo
echo "/l/{code}: $LINKS links; wrk -t2 -c$CONNECTIONS -d$DURATION; nproc $(nproc); $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%F)"
echo "| click counting | req/s | p50 | p90 | p99 | redirects | clicks stored |"
echo "|---|---|---|---|---|---|---|"
run direct
run batched
