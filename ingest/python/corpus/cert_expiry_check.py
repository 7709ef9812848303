#!/usr/bin/env python3
"""Check TLS certificate expiry for a list of endpoints.

Nagios-compatible exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
"""
import argparse
import datetime as dt
import json
import pathlib
import socket
import ssl
import sys


def days_left(host: str, port: int, timeout: float, ca_file=None) -> int:
    ctx = ssl.create_default_context(cafile=ca_file)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            not_after = tls.getpeercert()["notAfter"]
    expires = dt.datetime.strptime(not_after, "%b %d %H:%M:%S %Y %Z")
    return (expires - dt.datetime.utcnow()).days


def main() -> int:
    parser = argparse.ArgumentParser(description="Certificate expiry checker.")
    parser.add_argument("hosts", nargs="+", help="host or host:port to check")

    conn = parser.add_argument_group("connection")
    conn.add_argument("-p", "--port", type=int, default=443, help="default port")
    conn.add_argument("--timeout", type=float, default=5.0, help="socket timeout in seconds")
    conn.add_argument("--ca-file", type=pathlib.Path, help="extra CA bundle to trust")

    limits = parser.add_argument_group("thresholds", "days before expiry")
    limits.add_argument("-w", "--warning", type=int, default=30, metavar="DAYS")
    limits.add_argument("-c", "--critical", type=int, default=7, metavar="DAYS")

    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--nagios", action="store_true", help="print a Nagios status line")

    args = parser.parse_args()
    worst = 0
    report = {}
    for entry in args.hosts:
        host, _, port = entry.partition(":")
        left = days_left(host, int(port or args.port), args.timeout, args.ca_file)
        report[entry] = left
        if left <= args.critical:
            worst = max(worst, 2)
        elif left <= args.warning:
            worst = max(worst, 1)
    if args.json:
        print(json.dumps(report))
    else:
        print(" ".join(f"{h}={d}d" for h, d in report.items()))
    return worst


if __name__ == "__main__":
    sys.exit(main())
