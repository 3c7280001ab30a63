#!/usr/bin/env bash
# CI: Bazel's disk and repository caches in directories the workflow caches
# (actions/cache keyed on the files that decide what is fetched and built).
# Written to user.bazelrc, which .bazelrc try-imports.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-$HOME/.cache/weightstream-bazel}
mkdir -p "$dir/disk" "$dir/repo"
{
  echo "build --disk_cache=$dir/disk"
  echo "build --repository_cache=$dir/repo"
} >user.bazelrc
cat user.bazelrc
