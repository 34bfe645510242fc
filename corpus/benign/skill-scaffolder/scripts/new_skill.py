#!/usr/bin/env python3
"""Create ./.claude/skills/NAME/SKILL.md in the current project from the bundled template."""
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "SKILL.md.tmpl"


def main():
    if len(sys.argv) != 2 or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", sys.argv[1]):
        sys.exit("usage: new_skill.py NAME   (lowercase letters, digits and hyphens)")
    name = sys.argv[1]
    target = Path.cwd() / ".claude" / "skills" / name
    if target.exists():
        sys.exit(f"{target} already exists")
    target.mkdir(parents=True)
    title = name.replace("-", " ").capitalize()
    text = TEMPLATE.read_text(encoding="utf-8").format(name=name, title=title)
    (target / "SKILL.md").write_text(text, encoding="utf-8")
    print(f"created {target / 'SKILL.md'}")


if __name__ == "__main__":
    main()
