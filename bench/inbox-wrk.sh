#!/usr/bin/env bash
# The inbox under load: N open conversations (default 100,000), then `wrk -c200 --latency`
# against /api/conversations (bearer token) and /inbox (session cookie) of `earshot serve`.
# Prints a table of requests/s and latency percentiles; record it in docs/BENCHMARKS.md.
#
#   bench/inbox-wrk.sh [CONVERSATIONS] [DURATION]      e.g. bench/inbox-wrk.sh 100000 30s
#
# Needs: a release build (cargo build --release -p earshot-cli), python3, and wrk (installed
# from Debian with apt-get when missing).
set -euo pipefail

COUNT="${1:-100000}"
DURATION="${2:-30s}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
EARSHOT="${EARSHOT:-${CARGO_TARGET_DIR:-$ROOT/target}/release/earshot}"
ADDR="127.0.0.1:${PORT:-18080}"
WORK="$(mktemp -d -t earshot-inbox-bench-XXXXXX)"
export EARSHOT_DIR="$WORK/ws"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)..." >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi
[ -x "$EARSHOT" ] || { echo "no release binary at $EARSHOT: cargo build --release -p earshot-cli" >&2; exit 1; }

echo "workspace $EARSHOT_DIR; generating $COUNT mentions..." >&2
mkdir -p "$EARSHOT_DIR"
"$EARSHOT" init >/dev/null
"$EARSHOT" brand add Zeltron --query Zeltron >/dev/null
# Teams with members, so the list shows assignees and the filters have something to find.
cat >> "$EARSHOT_DIR/earshot.toml" <<'TOML'

[[team]]
name = "support"
members = ["anna", "boris"]
manager = "maria"

[[team]]
name = "sales"
members = ["clara"]

[[team]]
name = "billing"
members = ["dan"]

[[team]]
name = "product"

[[team]]
name = "marketing"
TOML
python3 - "$COUNT" > "$WORK/mentions.jsonl" <<'PY'
import json, random, sys
count = int(sys.argv[1])
rnd = random.Random(7)
words = ("battery screen refund order delivery price broken love great slow support app update "
         "invoice charge account login crash battery camera sound warranty shop store").split()
for i in range(count):
    text = "Zeltron " + " ".join(rnd.choice(words) for _ in range(12)) + f" #{i}"
    print(json.dumps({
        "source": rnd.choice(["masto", "bsky", "feed"]),
        "external_id": f"b{i}",
        "url": f"https://social.example/@u{i % 5000}/{i}",
        "text": text,
        "published_at": f"2026-11-{1 + i % 20:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
        "author": {"handle": f"u{i % 5000}", "name": f"User {i % 5000}", "followers": rnd.randint(0, 50000)},
        "lang": "en",
    }))
PY
echo "importing (the inbox hook opens a conversation per original)..." >&2
/usr/bin/time -f "import: %e s, peak RSS %M KiB" "$EARSHOT" import "$WORK/mentions.jsonl" >/dev/null
printf 'bench-password-%s\n' "$RANDOM$RANDOM" > "$WORK/pw"
"$EARSHOT" user add maria --role manager < "$WORK/pw" >/dev/null
TOKEN="$("$EARSHOT" token create maria | grep -Eo '[A-Za-z0-9_-]{32,}' | head -1)"

"$EARSHOT" serve --addr "$ADDR" --no-poll > "$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://$ADDR/healthz" >/dev/null && break; sleep 0.2; done
curl -s -c "$WORK/jar" "http://$ADDR/login" >/dev/null
curl -s -b "$WORK/jar" -c "$WORK/jar" -H "Origin: http://$ADDR" \
  --data-urlencode "name=maria" --data-urlencode "password=$(cat "$WORK/pw")" -o /dev/null "http://$ADDR/login"
COOKIE="$(awk '$6 == "earshot_session" {print $6 "=" $7}' "$WORK/jar")"
OPEN="$(curl -s -H "Authorization: Bearer $TOKEN" "http://$ADDR/api/conversations?limit=1" | head -c 200)"
[ -n "$COOKIE" ] || { echo "could not sign in" >&2; cat "$WORK/serve.log" >&2; exit 1; }
echo "first conversation: $OPEN" >&2

run() { # name, header, url
  local out
  out="$(wrk -t2 -c200 -d"$DURATION" --latency -H "$2" "$3")"
  local rps p50 p90 p99 non2xx
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
  p90="$(awk '$1 == "90%" {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  non2xx="$(awk '/Non-2xx/ {print $4}' <<<"$out")"
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p90" "$p99" "${non2xx:-0}"
}

echo
echo "conversations: $COUNT generated mentions; nproc $(nproc); $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%F)"
echo "| route (wrk -c200 -d$DURATION) | req/s | p50 | p90 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
run "GET /api/conversations (50, bearer)" "Authorization: Bearer $TOKEN" "http://$ADDR/api/conversations"
run "GET /api/conversations?team=support" "Authorization: Bearer $TOKEN" "http://$ADDR/api/conversations?team=support"
run "GET /inbox (page, session)" "Cookie: $COOKIE" "http://$ADDR/inbox"
