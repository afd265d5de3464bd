#!/usr/bin/env bash
# Log groomer of our Airflow image (pipelines/Dockerfile): the Airflow chart's log-groomer sidecars run
# `bash /clean-logs` with these settings (minutes and days are whole numbers):
#   AIRFLOW__LOG_RETENTION_DAYS (default 15) + AIRFLOW__LOG_RETENTION_MINUTES (default 0): log files older
#     than that are deleted; a total of 0 turns age-based deletion off;
#   AIRFLOW__LOG_MAX_SIZE_BYTES (default 0 = no limit): then the oldest files go until the logs fit;
#   AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES (default 15, at least 1): the pause between passes.
# The logs are $AIRFLOW_HOME/logs; emptied folders are removed. `--once` makes one pass and exits.
set -euo pipefail
logs="${AIRFLOW_HOME:-/opt/airflow}/logs"
days="${AIRFLOW__LOG_RETENTION_DAYS:-15}"
minutes="${AIRFLOW__LOG_RETENTION_MINUTES:-0}"
every="${AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES:-15}"
max_bytes="${AIRFLOW__LOG_MAX_SIZE_BYTES:-0}"
for value in "$days" "$minutes" "$every" "$max_bytes"; do
  if ! [[ "$value" =~ ^[0-9]+$ ]]; then
    echo "clean-logs: '$value' is not a whole number; check the AIRFLOW__LOG_* settings" >&2
    exit 2
  fi
done
if [ "$every" -lt 1 ]; then
  echo "clean-logs: AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES must be at least 1" >&2
  exit 2
fi
retention=$((days * 1440 + minutes))

one_pass() {
  [ -d "$logs" ] || return 0
  if [ "$retention" -gt 0 ]; then
    find "$logs" -type f -mmin "+$retention" -delete
  fi
  if [ "$max_bytes" -gt 0 ]; then
    local total size path
    total=$(find "$logs" -type f -printf '%s\n' | awk '{ sum += $1 } END { print sum + 0 }')
    # Oldest first: "<mtime> <size> <path>", NUL-separated so that any file name survives.
    while [ "$total" -gt "$max_bytes" ] && IFS=' ' read -r -d '' _ size path; do
      rm -f -- "$path"
      total=$((total - size))
    done < <(find "$logs" -type f -printf '%T@ %s %p\0' | sort -z -n)
  fi
  find "$logs" -mindepth 1 -type d -empty -delete
}

while true; do
  one_pass
  if [ "${1:-}" = "--once" ]; then
    exit 0
  fi
  sleep $((every * 60))
done
