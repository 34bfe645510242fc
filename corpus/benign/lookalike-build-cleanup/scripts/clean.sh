#!/usr/bin/env bash
# Remove generated build artifacts from the current project only.
set -euo pipefail

if [ ! -f package.json ] && [ ! -f pyproject.toml ]; then
  echo "not a project root; refusing to clean" >&2
  exit 1
fi

targets=(dist build coverage .next .turbo .pytest_cache .cache)
for t in "${targets[@]}"; do
  if [ -e "$t" ] && [ ! -L "$t" ]; then
    du -sh "$t" 2>/dev/null || true
    rm -rf -- "./$t"
  fi
done
find . -path ./node_modules -prune -o -type d \( -name '__pycache__' -o -name '*.egg-info' \) -print0 \
  | xargs -0 rm -rf --
echo "clean"
