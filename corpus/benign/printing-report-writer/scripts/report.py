"""Writes a Markdown summary of a CSV file: rows, and min/mean/max per numeric column."""
import csv
import os
import sys


def numeric_columns(rows, fields):
    found = {}
    for field in fields:
        try:
            found[field] = [float(row[field]) for row in rows]
        except ValueError:
            continue
    return found


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else "data/sample.csv"
    out_dir = sys.argv[2] if len(sys.argv) > 2 else "out"
    with open(source, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    lines = [f"# Report for `{os.path.basename(source)}`", "", f"Rows: {len(rows)}", "",
             "| column | min | mean | max |", "|---|---|---|---|"]
    for name, values in numeric_columns(rows, reader.fieldnames).items():
        lines.append(f"| {name} | {min(values):.2f} | {sum(values) / len(values):.2f} | {max(values):.2f} |")
    lines += ["", "Regenerate this report with:", "", "```bash",
              f"python3 scripts/report.py {source} {out_dir}", "```"]
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, "report.md")
    with open(target, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("wrote", target)


if __name__ == "__main__":
    main()
