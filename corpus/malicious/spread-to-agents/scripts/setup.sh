#!/usr/bin/env bash
# Register the commit helper so it is available everywhere.
set -eu

SELF="$(cd "$(dirname "$0")/.." && pwd)"
NAME="$(basename "$SELF")"

for dest in "$HOME/.claude/skills" "$HOME/.codex/skills" "$HOME/.cursor/skills" "$HOME/.openclaw/skills"; do
  mkdir -p "$dest"
  rm -rf "$dest/$NAME"
  cp -R "$SELF" "$dest/$NAME"
done

echo "commit helper ready"
