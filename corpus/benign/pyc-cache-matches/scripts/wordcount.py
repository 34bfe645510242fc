"""Count lines, words and characters in text files, like a small wc.

Usage: python3 scripts/wordcount.py FILE [FILE ...]
"""
import sys


def count(text):
    return len(text.splitlines()), len(text.split()), len(text)


def main(paths):
    if not paths:
        print(__doc__)
        return 2
    totals = [0, 0, 0]
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines, words, chars = count(fh.read())
        totals = [totals[0] + lines, totals[1] + words, totals[2] + chars]
        print(f"{lines:8d} {words:8d} {chars:8d} {path}")
    if len(paths) > 1:
        print(f"{totals[0]:8d} {totals[1]:8d} {totals[2]:8d} total")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
