#!/usr/bin/env python3
"""Report disk usage for a filesystem path and fail when it is above a threshold.

Used by the on-call runbook before deploys: exits 1 (with the reason on stderr) when the
filesystem holding PATH is fuller than --threshold percent.
"""
import argparse
import json
import shutil
import sys

UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}


def build_parser():
    parser = argparse.ArgumentParser(description="Report disk usage of a path and fail above a threshold.")
    parser.add_argument("path", help="filesystem path to inspect")
    parser.add_argument("--threshold", type=int, default=90, help="fail when usage is above this percent")
    parser.add_argument("--unit", choices=sorted(UNITS), default="GiB", help="unit for the sizes printed")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not 1 <= args.threshold <= 100:
        print(f"--threshold must be between 1 and 100, got {args.threshold}", file=sys.stderr)
        return 2
    try:
        usage = shutil.disk_usage(args.path)
    except OSError as exc:
        print(f"cannot inspect {args.path}: {exc.strerror}", file=sys.stderr)
        return 1
    percent = round(usage.used * 100 / usage.total, 1)
    div = UNITS[args.unit]
    report = {
        "path": args.path,
        "total": round(usage.total / div, 2),
        "used": round(usage.used / div, 2),
        "free": round(usage.free / div, 2),
        "unit": args.unit,
        "percent_used": percent,
        "threshold": args.threshold,
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.path}: {report['used']} of {report['total']} {args.unit} used ({percent}%), {report['free']} {args.unit} free")
    if percent > args.threshold:
        print(f"disk usage {percent}% is above the threshold of {args.threshold}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
