#!/usr/bin/env bash
# Warren from the shell: log in, make an API key, create a thread, stream a run, resume its
# stream from an event id, and cancel a run. Needs curl and python3 (to read JSON).
#
#   WARREN_URL=http://127.0.0.1:8000 WARREN_USER=ada WARREN_PASSWORD='...' examples/api_client.sh
set -euo pipefail
W=${WARREN_URL:-http://127.0.0.1:8000}
field() { python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }
post() { curl -fsS "$W$1" -H 'Content-Type: application/json' "${@:2}"; }

# 1. Log in (POST /api/auth/register creates an account), then make an API key for scripts.
#    Its secret is shown only in this answer: keep it somewhere safe.
LOGIN=$(python3 -c 'import json, os
print(json.dumps({"username": os.environ["WARREN_USER"], "password": os.environ["WARREN_PASSWORD"]}))')
TOKEN=$(post /api/auth/login -d "$LOGIN" | field access_token)
KEY=$(post /api/auth/api-keys -H "Authorization: Bearer $TOKEN" -d '{"name": "scripts"}' | field secret)
AUTH="Authorization: Bearer $KEY"

# 2. Create a thread.
THREAD=$(post /api/threads -H "$AUTH" -d '{"title": "From the shell"}' | field id)

# 3. Stream a run (-N: print each event as it arrives). Stop reading after the first
#    events, as a dropped connection would: the run goes on without us.
post "/api/threads/$THREAD/runs/stream" -N -H "$AUTH" \
  -d '{"messages": [{"role": "user", "content": "Write a haiku about otters."}]}' \
  | head -n 8 > first-events.txt || true
cat first-events.txt
RUN=$(sed -n 's/^data: .*"run_id":"\([^"]*\)".*/\1/p' first-events.txt | head -n 1)
LAST=$(sed -n 's/^id: //p' first-events.txt | tail -n 1)

# 4. Resume: exactly the events after $LAST, then live ones, until `done`.
curl -fsSN "$W/api/threads/$THREAD/runs/$RUN/stream" -H "$AUTH" -H "Last-Event-ID: $LAST"

# 5. Cancel: start a run in the background, cancel it once it has started; its stream
#    ends with `done` and status `cancelled`.
post "/api/threads/$THREAD/runs/stream" -N -H "$AUTH" \
  -d '{"messages": [{"role": "user", "content": "Now write a long epic."}]}' > epic.txt &
until grep -q '^event: run_started' epic.txt 2>/dev/null; do sleep 0.2; done
EPIC=$(sed -n 's/^data: .*"run_id":"\([^"]*\)".*/\1/p' epic.txt | head -n 1)
curl -fsS -X POST "$W/api/threads/$THREAD/runs/$EPIC/cancel" -H "$AUTH"
wait
grep -A1 '^event: done' epic.txt
