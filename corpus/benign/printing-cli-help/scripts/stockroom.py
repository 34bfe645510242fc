"""Command-line client for the Stockroom HQ inventory API."""
import argparse
import json
import os
import urllib.request

BASE = "https://api.stockroomhq.com/v1"
EXAMPLES = """examples:
  stockroom.py items --limit 20
  stockroom.py item SKU-1042

the same request with curl:
  curl -H "Authorization: Bearer $TOKEN" https://api.stockroomhq.com/v1/items

install the official SDK instead:
  pip install stockroomhq
"""


def main():
    parser = argparse.ArgumentParser(prog="stockroom.py", epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("resource", choices=["items", "item"])
    parser.add_argument("sku", nargs="?")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    url = f"{BASE}/items/{args.sku}" if args.resource == "item" else f"{BASE}/items?limit={args.limit}"
    if args.dry_run:
        print(f"GET {url}\nAuthorization: Bearer <STOCKROOM_TOKEN>")
        return
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ["STOCKROOM_TOKEN"]})
    with urllib.request.urlopen(request, timeout=10) as response:
        print(json.dumps(json.load(response), indent=2))


if __name__ == "__main__":
    main()
