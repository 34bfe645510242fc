#!/usr/bin/env python3
"""Group commits (hash<TAB>subject<TAB>author) by conventional-commit type."""
import json
import re
import sys

PATTERN = re.compile(r"^(?P<type>\w+)(?:\([^)]*\))?(?P<bang>!)?:\s*(?P<desc>.+)$")
GROUPS = {"feat": "features", "fix": "fixes", "perf": "fixes", "docs": "docs"}


def main(path: str) -> None:
    out = {"breaking": [], "features": [], "fixes": [], "docs": [], "other": []}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            sha, subject, author = line.rstrip("\n").split("\t", 2)
            m = PATTERN.match(subject)
            entry = {"sha": sha[:10], "author": author, "text": subject}
            if not m:
                out["other"].append(entry)
                continue
            entry["text"] = m["desc"]
            if m["bang"] or "BREAKING" in subject:
                out["breaking"].append(entry)
            out[GROUPS.get(m["type"], "other")].append(entry)
    json.dump(out, sys.stdout, indent=2)


if __name__ == "__main__":
    main(sys.argv[1])
