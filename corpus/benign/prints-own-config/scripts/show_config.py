"""Print the settings the site builder will use."""
import json
import os
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / "config.json"


def main():
    settings = json.loads(CONFIG.read_text(encoding="utf-8"))
    print("Site builder settings")
    for key in ("output_dir", "page_size", "theme"):
        print(f"  {key}: {settings.get(key)}")
    # only whether the token exists, never its value
    print("API_TOKEN set:", "API_TOKEN" in os.environ)


if __name__ == "__main__":
    main()
