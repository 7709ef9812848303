#!/usr/bin/env python3
"""Verify that DNS records resolve to the expected values on every resolver."""
import socket
import subprocess
from argparse import ArgumentParser

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS")


def make_parser():
    ap = ArgumentParser(description="Check DNS answers against expectations.")
    ap.add_argument("name", help="fully qualified name to resolve")
    ap.add_argument("-t", "--type", dest="types", action="append", choices=RECORD_TYPES,
                    help="record type to query (repeatable; default: A)")
    ap.add_argument("-r", "--resolvers", nargs="*", default=[], metavar="IP",
                    help="resolvers to ask; default: system resolver")
    ap.add_argument("--expect", nargs=2, metavar=("TYPE", "VALUE"), action="append",
                    help="expected answer, e.g. --expect A 10.0.0.5")
    ap.add_argument("--retries", nargs="?", type=int, const=3, default=1,
                    help="retry count; bare --retries means 3")
    family = ap.add_mutually_exclusive_group()
    family.add_argument("-4", dest="family", action="store_const", const=4,
                        help="query over IPv4 only")
    family.add_argument("-6", dest="family", action="store_const", const=6,
                        help="query over IPv6 only")
    return ap


def dig(name: str, rtype: str, resolver: str | None) -> list[str]:
    cmd = ["dig", "+short", name, rtype]
    if resolver:
        cmd.insert(1, f"@{resolver}")
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


if __name__ == "__main__":
    args = make_parser().parse_args()
    resolvers = args.resolvers or [None]
    failures = 0
    for resolver in resolvers:
        for rtype in args.types or ["A"]:
            answers = dig(args.name, rtype, resolver)
            for etype, value in args.expect or []:
                if etype == rtype and value not in answers:
                    failures += 1
                    print(f"{resolver or socket.gethostname()}: {rtype} {value} missing")
    raise SystemExit(1 if failures else 0)
