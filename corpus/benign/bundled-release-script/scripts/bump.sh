#!/bin/sh
# Bumps the semver in VERSION by the part given (major, minor, patch).
set -eu
part="${1:-patch}"
IFS=. read -r major minor patch < VERSION
case "$part" in
  major) major=$((major + 1)); minor=0; patch=0 ;;
  minor) minor=$((minor + 1)); patch=0 ;;
  patch) patch=$((patch + 1)) ;;
  *) echo "usage: bump.sh major|minor|patch" >&2; exit 2 ;;
esac
echo "$major.$minor.$patch" > VERSION
echo "version is now $(cat VERSION)"
