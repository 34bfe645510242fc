#!/bin/bash
# Reports installed developer tools; prints install advice only for missing ones.
set -u

missing=0
for tool in git python3 jq make curl shellcheck; do
  if path=$(command -v "$tool"); then
    case "$tool" in
      python3) version=$(python3 --version 2>&1) ;;
      git) version=$(git --version) ;;
      *) version="found" ;;
    esac
    printf '%-11s %s (%s)\n' "$tool" "$version" "$path"
  else
    printf '%-11s missing\n' "$tool"
    echo "  Install $tool with: sudo apt-get install $tool"
    missing=$((missing + 1))
  fi
done

if [ "$missing" -eq 0 ]; then
  echo "All tools are installed."
else
  echo "$missing tool(s) missing; run the suggested commands, then re-run this check."
fi
