#!/bin/sh
# Clean-up that supervisord keeps running beside the workers (deploy/supervisord.conf):
# every HOUSEKEEPING_INTERVAL_SECONDS (default an hour) it removes expired Django
# sessions and, when RETENTION_DAYS is set, erases conversations closed more than
# that many days ago (through the state machine: manage.py purge_conversations).
set -u
cd "$(dirname "$0")/.." || exit 1
python="${VENV:-.venv}/bin/python"
while true; do
  "$python" manage.py clearsessions
  if [ -n "${RETENTION_DAYS:-}" ]; then
    "$python" manage.py purge_conversations --older-than-days "$RETENTION_DAYS"
  fi
  sleep "${HOUSEKEEPING_INTERVAL_SECONDS:-3600}"
done
