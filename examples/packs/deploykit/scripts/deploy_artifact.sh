#!/usr/bin/env bash
# Fetch a component's build artifact and switch the current release to it (demo: records the switch).
# Usage: deploy_artifact.sh [-s strategy] [-k registry_token] component version environment region artifact
set -euo pipefail
strategy=in-place
token=""
while getopts "s:k:" opt; do
  case "$opt" in
    s) strategy="$OPTARG" ;;
    k) token="$OPTARG" ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
component="$1"
version="$2"
environment="$3"
region="$4"
artifact="${5:-$component}"
echo "fetching ${artifact}-${version}.tar.gz for ${component} (${environment}/${region})${token:+ with a registry token of ${#token} characters}"
echo "switching ${component} to ${version} (${strategy})"
