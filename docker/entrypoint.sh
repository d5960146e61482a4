#!/bin/sh
# Calypso container entry point: web | worker | beat | migrate | healthcheck ROLE | any command.
set -eu
cd /opt/calypso
umask 077  # the data volume (database, sessions, secrets, logs) is for the portal's user only

role="${1:-web}"
[ $# -gt 0 ] && shift

case "$role" in
  web)
    # Refresh the static files in the data volume (an upgraded image may bring new ones).
    python manage.py collectstatic --noinput -v 0
    # Forwarded headers (client address, https) are believed only from CALYPSO_TRUSTED_PROXIES, the same
    # list the portal itself uses; with none, uvicorn ignores them and the client is the TCP peer.
    if [ -n "${CALYPSO_TRUSTED_PROXIES:-}" ]; then
      set -- --proxy-headers --forwarded-allow-ips "$CALYPSO_TRUSTED_PROXIES" "$@"
    else
      set -- --no-proxy-headers "$@"
    fi
    # Uncompressed WebSocket frames, as apps/core/serving.py starts it.
    exec uvicorn calypso.asgi:application --host 0.0.0.0 --port "${CALYPSO_PORT:-8000}" \
      --ws websockets-sansio --ws-per-message-deflate false --log-level "${CALYPSO_UVICORN_LOG_LEVEL:-info}" "$@"
    ;;
  worker)
    # A fixed node name (set the container's hostname): a restarted worker then fails the jobs its
    # previous process left running.
    exec celery -A calypso worker -l "${CALYPSO_CELERY_LOG_LEVEL:-info}" -Q "${CALYPSO_QUEUE:-calypso}" \
      -n "calypso@%h" -c "${CALYPSO_WORKER_CONCURRENCY:-2}" "$@"
    ;;
  beat)
    exec celery -A calypso beat -l "${CALYPSO_CELERY_LOG_LEVEL:-info}" --pidfile= "$@"
    ;;
  migrate)
    python manage.py migrate --noinput
    exec python manage.py ensure_admin
    ;;
  healthcheck)
    case "${1:-web}" in
      web)
        # The anonymous liveness probe: 200 "ok" while the server and its database answer.
        exec python - <<'PY'
import os, sys, urllib.request
url = f"http://127.0.0.1:{os.environ.get('CALYPSO_PORT', '8000')}/healthz"
try:
    sys.exit(0 if urllib.request.urlopen(url, timeout=5).status == 200 else 1)
except OSError:
    sys.exit(1)
PY
        ;;
      worker)
        exec celery -A calypso inspect ping -d "calypso@$(hostname)" --timeout 5 >/dev/null
        ;;
      *) echo "healthcheck: unknown role $1" >&2; exit 2 ;;
    esac
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
