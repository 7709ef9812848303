#!/usr/bin/env python3
"""Remove old Docker images from build agents, keeping the newest N per repo."""
import argparse
import subprocess

DEFAULT_KEEP = 5
PROTECTED_TAGS = ["latest", "stable", "lts"]
STRATEGIES = ["age", "count", "size"]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Prune old Docker images.\n\nNothing is removed without --yes.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("repositories", nargs="*", help="repositories to prune (default: all)")
    parser.add_argument("--keep", type=int, default=DEFAULT_KEEP,
                        help="images to keep per repository (default: %(default)s)")
    parser.add_argument("--strategy", choices=STRATEGIES, help="what to prune by")
    parser.add_argument("--protect", action="append", choices=PROTECTED_TAGS + ["edge"],
                        help="tags that are never removed")
    parser.add_argument("--older-than-days", type=int, choices=range(1, 366), metavar="DAYS")
    parser.add_argument("-y", "--yes", action="store_true", help="really delete")
    parser.add_argument("--parallel", type=int, default=1)
    parser.set_defaults(strategy="count", parallel=4)
    args = parser.parse_args()

    out = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}"],
        capture_output=True, text=True, check=True).stdout
    seen = {}
    for line in out.splitlines():
        repo, tag, image_id = line.split()
        if args.repositories and repo not in args.repositories:
            continue
        if tag in (args.protect or PROTECTED_TAGS):
            continue
        seen.setdefault(repo, []).append(image_id)
    for repo, ids in seen.items():
        for image_id in ids[args.keep:]:
            cmd = ["docker", "rmi", image_id]
            print(" ".join(cmd))
            if args.yes:
                subprocess.run(cmd, check=False)
