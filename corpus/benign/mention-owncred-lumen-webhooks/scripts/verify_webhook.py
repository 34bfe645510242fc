#!/usr/bin/env python3
"""Verify a Lumen Billing webhook signature offline. The secret never leaves this process."""
import argparse
import hashlib
import hmac
import os
import sys
import time


def parse_header(header: str) -> tuple[int, list[str]]:
    parts = dict()
    sigs = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "v1":
            sigs.append(value)
        else:
            parts[key] = value
    return int(parts["t"]), sigs


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--body", required=True)
    ap.add_argument("--header", required=True)
    ap.add_argument("--secret-env", default="LUMEN_WEBHOOK_SECRET")
    ap.add_argument("--tolerance", type=int, default=300)
    args = ap.parse_args()

    secret = os.environ.get(args.secret_env)
    if not secret:
        print(f"{args.secret_env} is not set", file=sys.stderr)
        return 2
    raw = open(args.body, "rb").read()
    ts, sigs = parse_header(args.header)
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in sigs):
        print("signature mismatch")
        return 1
    if abs(time.time() - ts) > args.tolerance:
        print("signature valid but timestamp outside tolerance")
        return 1
    print("signature valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
