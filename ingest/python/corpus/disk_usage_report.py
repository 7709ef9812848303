#!/usr/bin/env python3
"""Report disk usage per mount point and flag filesystems over a threshold.

Intended to run from cron; prints a table or CSV and exits non-zero when any
filesystem is above the critical threshold.
"""
import argparse
import csv
import os
import shutil
import sys

DEFAULT_EXCLUDES = ["tmpfs", "devtmpfs", "overlay", "squashfs"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Disk usage report with thresholds.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("mounts", nargs="*", default=["/"], metavar="MOUNT",
                        help="mount points to report")

    selection = parser.add_argument_group("selection")
    selection.add_argument("-x", "--exclude-type", dest="exclude_types", action="append",
                           default=DEFAULT_EXCLUDES, metavar="FSTYPE",
                           help="filesystem types to skip")
    selection.add_argument("--min-size", type=int, default=0, metavar="GIB",
                           help="ignore filesystems smaller than this")

    output = parser.add_argument_group("output")
    fmt = output.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="CSV instead of a table")
    fmt.add_argument("--columns", nargs=3, metavar=("MOUNT", "USED", "FREE"),
                     help="column headers for the table")
    units = output.add_argument_group("units")
    units.add_argument("-H", "--human", action="store_true", help="human readable sizes")

    parser.add_argument("--warn-pct", type=float, default=80.0, help="warning threshold")
    parser.add_argument("--crit-pct", type=float, default=95.0, help="critical threshold")
    return parser


def main() -> int:
    args = build_parser().parse_args()
    rows, status = [], 0
    for mount in args.mounts:
        usage = shutil.disk_usage(mount)
        pct = 100.0 * usage.used / usage.total
        if usage.total < args.min_size * 2**30:
            continue
        if pct >= args.crit_pct:
            status = 2
        elif pct >= args.warn_pct:
            status = max(status, 1)
        rows.append((mount, usage.used, usage.free, f"{pct:.1f}%"))
    if args.csv:
        csv.writer(sys.stdout).writerows(rows)
    else:
        for row in rows:
            print(*row, sep="\t")
    return status


if __name__ == "__main__":
    sys.exit(main())
