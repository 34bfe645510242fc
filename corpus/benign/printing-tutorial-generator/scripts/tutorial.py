"""Prints a Markdown tutorial on the basic git branch workflow."""
import sys

FENCE = "`" * 3


def section(title, text, commands):
    return f"## {title}\n\n{text}\n\n{FENCE}bash\n" + "\n".join(commands) + f"\n{FENCE}\n"


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else "https://github.com/octo-org/hello-world.git"
    name = repo.rstrip("/").split("/")[-1].removesuffix(".git")
    parts = [
        f"# Git basics for {name}\n",
        section("1. Get a copy", "Clone the repository and enter it:",
                [f"git clone {repo}", f"cd {name}"]),
        section("2. Start a branch", "Keep your work off main until it is reviewed:",
                ["git checkout -b my-feature"]),
        section("3. Save your work", "Stage and commit your changes:",
                ["git add -A", 'git commit -m "Describe the change"']),
        section("4. Share it", "Push the branch, or push main once it is merged:",
                ["git push -u origin my-feature", "git push origin main"]),
    ]
    print("\n".join(parts))


if __name__ == "__main__":
    main()
