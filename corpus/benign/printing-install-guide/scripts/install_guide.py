"""Prints the official install steps for nbtidy; installs nothing itself."""
import platform
import sys

VERSION = "1.2.3"


def steps(system):
    activate = ".venv\\Scripts\\activate" if system == "Windows" else "source .venv/bin/activate"
    return [
        ("Create a virtual environment in your project", "python3 -m venv .venv"),
        ("Activate it", activate),
        ("Install the pinned release", f"pip install nbtidy=={VERSION}"),
        ("Or install it for your user only, without a venv", f"pip install --user nbtidy=={VERSION}"),
        ("Check the installation", "nbtidy --version"),
    ]


def main():
    system = platform.system() or "Linux"
    print(f"# Installing nbtidy {VERSION} on {system}\n")
    if sys.version_info < (3, 9):
        print("nbtidy needs Python 3.9 or newer; upgrade Python first.\n")
    for n, (what, command) in enumerate(steps(system), 1):
        print(f"{n}. {what}:\n\n    {command}\n")


if __name__ == "__main__":
    main()
