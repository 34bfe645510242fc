"""Finds customers by name with a parameterised query."""
import sqlite3
import sys


def find_customers(db_path, name):
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute(
            "SELECT id, name, email FROM customers WHERE name LIKE ?", (f"%{name}%",)
        )
        return rows.fetchall()
    finally:
        conn.close()


if __name__ == "__main__":
    for row in find_customers(sys.argv[1], sys.argv[2]):
        print(*row, sep="\t")
