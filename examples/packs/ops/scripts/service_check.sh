#!/usr/bin/env bash
# Check that a TCP service answers, retrying a few times, like our old cron health probe.
# Usage: service_check.sh [-t timeout] [-r retries] host port
set -euo pipefail

timeout=3
retries=1
while getopts "t:r:" opt; do
  case "$opt" in
    t) timeout="$OPTARG" ;;
    r) retries="$OPTARG" ;;
    *) echo "usage: $0 [-t timeout] [-r retries] host port" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -ne 2 ]; then
  echo "usage: $0 [-t timeout] [-r retries] host port" >&2
  exit 2
fi
host="$1"
port="$2"

for attempt in $(seq 1 "$retries"); do
  if timeout "$timeout" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null; then
    echo "OK: ${host}:${port} answers (attempt ${attempt}/${retries}, region ${STACKWIRE_REGION:-local})"
    exit 0
  fi
  echo "attempt ${attempt}/${retries}: ${host}:${port} did not answer within ${timeout}s" >&2
  [ "$attempt" -lt "$retries" ] && sleep 1
done
echo "CRITICAL: ${host}:${port} is down" >&2
exit 1
