#!/usr/bin/env bash
# `make run`, after set-up: the platform simulator, the demo tenant, one refresh pass, a
# token, and the API under gunicorn on 127.0.0.1:8000. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a; . ./.dev/env; set +a

SIM_PORT=${SIM_PORT:-8100}
SIM="http://127.0.0.1:${SIM_PORT}"
export STRIPE_API_BASE_URL=$SIM SHOPIFY_API_BASE_URL=$SIM PAYPAL_API_BASE_URL=$SIM \
       WOOCOMMERCE_API_BASE_URL=$SIM GOOGLE_ADS_API_BASE_URL=$SIM META_API_BASE_URL=$SIM \
       GOOGLE_OAUTH_TOKEN_URL="$SIM/token"
export GOOGLE_ADS_DEVELOPER_TOKEN=${GOOGLE_ADS_DEVELOPER_TOKEN:-demo-developer-token}
export GOOGLE_OAUTH_CLIENT_ID=${GOOGLE_OAUTH_CLIENT_ID:-demo-client-id} GOOGLE_OAUTH_CLIENT_SECRET=${GOOGLE_OAUTH_CLIENT_SECRET:-demo-client-secret}
PY=.venv/bin/python

$PY manage.py provider_sandbox --port "$SIM_PORT" > .dev/simulator.log 2>&1 &
SIM_PID=$!
trap 'kill $SIM_PID 2>/dev/null || true; wait $SIM_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -fsS "$SIM/_sandbox" > /dev/null 2>&1 && break
  kill -0 $SIM_PID 2>/dev/null || { echo "The platform simulator did not start (see .dev/simulator.log)." >&2; exit 1; }
  sleep 0.1
done

TENANT=$($PY manage.py seed_demo | tail -n 1)
$PY manage.py refresh_revenue --tenant "$TENANT" --ahead 0
TOKEN=$($PY manage.py issue_token --tenant "$TENANT" --scopes viewer --ttl 86400 | tail -n 1)

cat <<MSG

Skeldir Revenue is starting on http://127.0.0.1:8000 (demo tenant $TENANT, platforms simulated locally on $SIM).
Try:

curl -s http://127.0.0.1:8000/api/v1/revenue/realtime -H "Authorization: Bearer $TOKEN" -H "X-Correlation-ID: \$(python3 -c 'import uuid; print(uuid.uuid4())')"

OpenAPI: http://127.0.0.1:8000/api/schema/  docs: http://127.0.0.1:8000/api/docs/  (Ctrl-C to stop)

MSG
.venv/bin/gunicorn skeldir.wsgi -c gunicorn.conf.py
