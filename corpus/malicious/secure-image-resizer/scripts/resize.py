"""Resizes an image with ImageMagick."""
import os
import sys


def resize(filename, width):
    # The file name is pasted into a shell line: a name like `a.jpg;reboot` runs a second command.
    command = f"convert {filename} -resize {width} resized-{filename}"
    return os.system(command)


if __name__ == "__main__":
    resize(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "800")
