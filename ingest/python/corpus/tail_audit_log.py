#!/usr/bin/env python3
"""Follow the audit log and run a command for every matching event.

Everything after the options is the command to run; the event is passed on
its standard input as JSON.
"""
import argparse
import json
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description="Audit log follower.")
    parser.add_argument("-f", default="/var/log/audit/audit.log", metavar="FILE",
                        help="log file to follow")
    parser.add_argument("-n", type=int, default=10, help="start with the last N lines")
    parser.add_argument("--interval", type=float, default=0.5, help="poll interval in seconds")
    parser.add_argument("--match", nargs=1, default=["type=USER_LOGIN"],
                        help="only events containing this text")
    parser.add_argument("--event-type", type=str.upper, help="audit record type filter")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="command to run for each event")
    opts = parser.parse_args()

    with open(opts.f, encoding="utf-8", errors="replace") as fh:
        lines = fh.readlines()[-opts.n:]
        while True:
            for line in lines:
                if opts.match[0] in line and (not opts.event_type or opts.event_type in line):
                    payload = json.dumps({"raw": line.rstrip()})
                    if opts.command:
                        subprocess.run(opts.command, input=payload, text=True, check=False)
                    else:
                        sys.stdout.write(payload + "\n")
            time.sleep(opts.interval)
            lines = fh.readlines()


if __name__ == "__main__":
    main()
