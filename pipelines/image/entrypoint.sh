#!/usr/bin/env bash
# Entry point of our Airflow image (pipelines/Dockerfile). The Airflow chart gives its containers `args`
# only, so they all arrive here: a command found on PATH (bash, python, airflow, ...) or a path runs as
# given; anything else is an Airflow subcommand (`scheduler` runs `airflow scheduler`); nothing at all
# shows Airflow's help. New files are group-writable: the chart's pods share group 0 (fsGroup 0).
# No wait for the database here: the chart's wait-for-airflow-migrations init containers order startup.
set -euo pipefail
umask 0002
if [ "$#" -eq 0 ]; then
  exec airflow --help
fi
if [[ "$1" == */* ]] || command -v -- "$1" >/dev/null 2>&1; then
  exec "$@"
fi
exec airflow "$@"
