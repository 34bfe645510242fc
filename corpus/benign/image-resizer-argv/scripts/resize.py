"""Resizes an image with ImageMagick."""
import subprocess
import sys


def resize(filename, width):
    # An argument list: no shell ever reads the file name.
    return subprocess.run(
        ["convert", filename, "-resize", str(width), f"resized-{filename}"], check=True
    )


if __name__ == "__main__":
    resize(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "800")
