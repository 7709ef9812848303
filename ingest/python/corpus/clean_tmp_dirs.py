#!/usr/bin/env python3
"""Delete stale build scratch directories under /var/tmp/ci.

Takes no arguments: the paths and ages are fixed by the CI runbook.
"""
import os
import shutil
import time

ROOT = "/var/tmp/ci"
MAX_AGE_HOURS = 48


def stale_dirs(root: str, max_age_hours: int):
    cutoff = time.time() - max_age_hours * 3600
    for entry in os.scandir(root):
        if entry.is_dir(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
            yield entry.path


if __name__ == "__main__":
    removed = 0
    for path in stale_dirs(ROOT, MAX_AGE_HOURS):
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    print(f"removed {removed} stale directories")
