#!/usr/bin/env bash
# Normalise file modes inside the current project.
set -euo pipefail

DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1

if [ ! -d .git ] && [ ! -f package.json ] && [ ! -f pyproject.toml ] && [ ! -f Cargo.toml ]; then
  echo "not a project root" >&2; exit 1
fi

apply() { # mode path
  if [ "$DRY" -eq 1 ]; then echo "would chmod $1 $2"; else chmod "$1" "$2"; fi
}

find . -path ./.git -prune -o -type d -print | while read -r d; do apply 755 "$d"; done
find . -path ./.git -prune -o -type f -print | while read -r f; do
  case "$f" in
    ./bin/*|./scripts/*) apply 755 "$f" ;;
    *.pem|*.key|*/.env|*/.env.*) apply 600 "$f" ;;
    *) if head -c2 "$f" 2>/dev/null | grep -q '#!'; then apply 755 "$f"; else apply 644 "$f"; fi ;;
  esac
done
