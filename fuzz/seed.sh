#!/usr/bin/env bash
# Builds seed corpora for the fuzz targets from the project's own sample skills.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/frontmatter corpus/archive
for f in ../corpus/*/*/SKILL.md; do
  cp "$f" "corpus/frontmatter/$(basename "$(dirname "$f")").md"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for d in ../corpus/benign/web-search ../corpus/benign/pdf-extract ../corpus/malicious/fake-prereq-zip-password ../corpus/malicious/exec-b64-python; do
  [ -d "$d" ] || continue
  n=$(basename "$d")
  (cd "$(dirname "$d")" && zip -qr "$tmp/$n.zip" "$n" -x '*/expected.toml' && tar -cf "$tmp/$n.tar" --exclude expected.toml "$n" && tar -czf "$tmp/$n.tgz" --exclude expected.toml "$n")
done
cp "$tmp"/* corpus/archive/
