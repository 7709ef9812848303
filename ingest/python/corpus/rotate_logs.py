#!/usr/bin/env python3
"""Rotate and compress application logs in a directory.

Renames every matching log to <name>.<timestamp>, gzips rotated files and
deletes the oldest ones beyond the retention count.
"""
import argparse
import gzip
import shutil
import time
from pathlib import Path

parser = argparse.ArgumentParser(description="Rotate application logs.")
parser.add_argument("log_dir", type=Path, help="directory that holds the logs")
parser.add_argument("-k", "--keep", type=int, default=7,
                    help="rotated files to keep per log (default: %(default)s)")
parser.add_argument("--pattern", default="*.log", help="glob for files to rotate")
parser.add_argument("--compress", action="store_true", help="gzip rotated files")
parser.add_argument("--dry-run", action="store_true", help="only print what would happen")
parser.add_argument("-v", "--verbose", action="count", help="more output (repeatable)")


def rotate(path: Path, compress: bool, dry_run: bool) -> Path:
    target = path.with_name(f"{path.name}.{time.strftime('%Y%m%d%H%M%S')}")
    if dry_run:
        print(f"would rotate {path} -> {target}")
        return target
    path.rename(target)
    path.touch()
    if compress:
        with open(target, "rb") as src, gzip.open(f"{target}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        target.unlink()
    return target


def prune(path: Path, keep: int, dry_run: bool) -> None:
    rotated = sorted(path.parent.glob(f"{path.name}.*"), reverse=True)
    for old in rotated[keep:]:
        if dry_run:
            print(f"would delete {old}")
        else:
            old.unlink()


if __name__ == "__main__":
    args = parser.parse_args()
    for log in sorted(args.log_dir.glob(args.pattern)):
        rotated_to = rotate(log, args.compress, args.dry_run)
        if args.verbose:
            print(f"rotated {log} -> {rotated_to}")
        prune(log, args.keep, args.dry_run)
