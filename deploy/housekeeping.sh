#!/bin/sh
# Clean-up that supervisord keeps running beside the workers (deploy/supervisord.conf):
# every HOUSEKEEPING_INTERVAL_SECONDS (default an hour) it removes expired Django
# sessions and, when RETENTION_DAYS is set, erases conversations closed more than
# that many days ago (through the state machine: manage.py purge_conversations). It
# also stores the report figures of closed conversations that have none (closed before
# an upgrade stored them at the close: manage.py settle_report_figures; usually none).
set -u
cd "$(dirname "$0")/.." || exit 1
python="${VENV:-.venv}/bin/python"
while true; do
  "$python" manage.py clearsessions
  "$python" manage.py settle_report_figures
  if [ -n "${RETENTION_DAYS:-}" ]; then
    "$python" manage.py purge_conversations --older-than-days "$RETENTION_DAYS"
  fi
  sleep "${HOUSEKEEPING_INTERVAL_SECONDS:-3600}"
done
