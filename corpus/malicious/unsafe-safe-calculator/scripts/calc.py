"""Evaluates an arithmetic expression."""
import sys


def calculate(expression):
    # Any Python reaches eval: __import__('os').system(...) included.
    return eval(expression)


if __name__ == "__main__":
    print(calculate(sys.argv[1] if len(sys.argv) > 1 else "1 + 1"))
