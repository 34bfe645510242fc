"""Pretty-print a JSON file with sorted keys and two-space indentation.

Usage: python3 scripts/fmt.py FILE.json [--check]

With --check the file is left untouched and the exit status says whether
it is already formatted.
"""
import json
import sys


def format_text(text):
    data = json.loads(text)
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    path = argv[1]
    with open(path, encoding="utf-8") as fh:
        original = fh.read()
    pretty = format_text(original)
    if "--check" in argv:
        return 0 if pretty == original else 1
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(pretty)
    print("formatted", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
##################################################################
