#!/usr/bin/env python3
"""Restart systemd services on one or more hosts, one host at a time.

Each host is restarted, then polled until the unit is active again before the
next host is touched.
"""
import argparse
import re
import subprocess
import sys


def parse_duration(text: str) -> int:
    """Turn '90s', '5m' or '1h' into seconds."""
    match = re.fullmatch(r"(\d+)([smh]?)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"bad duration: {text!r}")
    value, unit = match.groups()
    return int(value) * {"": 1, "s": 1, "m": 60, "h": 3600}[unit]


def build_parser():
    p = argparse.ArgumentParser(description="Rolling restart of systemd units.")
    p.add_argument("services", nargs="+", metavar="UNIT",
                   help="systemd unit names, e.g. nginx.service")
    p.add_argument("-H", "--host", action="append", default=[], dest="hosts",
                   help="host to restart on (repeatable); default is localhost")
    p.add_argument("--signal", choices=["restart", "reload", "try-restart"],
                   default="restart", help="systemctl verb (default: %(default)s)")
    p.add_argument("--health-timeout", type=parse_duration, default="2m",
                   help="how long to wait for the unit to become active")
    p.add_argument("--retries", type=int, default=3,
                   help="attempts per host before giving up")
    return p


def restart(host: str, verb: str, unit: str) -> bool:
    cmd = ["systemctl", verb, unit]
    if host != "localhost":
        cmd = ["ssh", host, "sudo"] + cmd
    return subprocess.run(cmd, check=False).returncode == 0


def main() -> int:
    args = build_parser().parse_args()
    hosts = args.hosts or ["localhost"]
    for host in hosts:
        for unit in args.services:
            for _attempt in range(args.retries):
                if restart(host, args.signal, unit):
                    break
            else:
                print(f"{host}: {unit} failed", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
