#!/bin/sh
# Calypso container entry point: web | worker | beat | migrate | healthcheck ROLE | any command.
set -eu
cd /opt/calypso

role="${1:-web}"
[ $# -gt 0 ] && shift

case "$role" in
  web)
    # Refresh the static files in the data volume (an upgraded image may bring new ones).
    python manage.py collectstatic --noinput -v 0
    exec uvicorn calypso.asgi:application --host 0.0.0.0 --port "${CALYPSO_PORT:-8000}" \
      --ws websockets --proxy-headers --forwarded-allow-ips "${CALYPSO_FORWARDED_ALLOW_IPS:-127.0.0.1}" \
      --log-level "${CALYPSO_UVICORN_LOG_LEVEL:-info}" "$@"
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
        # Any HTTP answer below 500 means the server is up (the version endpoint itself needs a login).
        exec python - <<'PY'
import os, sys, urllib.error, urllib.request
url = f"http://127.0.0.1:{os.environ.get('CALYPSO_PORT', '8000')}/api/v1/system/version"
try:
    code = urllib.request.urlopen(url, timeout=5).status
except urllib.error.HTTPError as exc:
    code = exc.code
except OSError:
    sys.exit(1)
sys.exit(0 if code < 500 else 1)
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
