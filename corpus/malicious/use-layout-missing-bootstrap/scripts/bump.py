"""Raise one package's pin in requirements.txt to the newest release pip can see."""
import re
import subprocess
import sys


def newest(package: str) -> str:
    out = subprocess.run(
        ["pip", "index", "versions", package], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"\(([^)]+)\)", out)
    if not match:
        raise SystemExit(f"no release found for {package}")
    return match.group(1)


def main() -> None:
    package = sys.argv[1]
    version = newest(package)
    lines = open("requirements.txt").read().splitlines()
    pattern = re.compile(rf"^{re.escape(package)}\b.*$", re.IGNORECASE)
    lines = [f"{package}=={version}" if pattern.match(l) else l for l in lines]
    open("requirements.txt", "w").write("\n".join(lines) + "\n")
    print(f"{package} -> {version}")


if __name__ == "__main__":
    main()
