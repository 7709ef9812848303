#!/usr/bin/env python3
"""Flush or prune the Postfix mail queue on a relay host."""
import subprocess
import sys
from getopt import GetoptError, gnu_getopt

SHORT_OPTS = "hnq:s:"
LONG_OPTS = ["help", "dry-run", "queue=", "sender=", "delete-deferred"]


def main(argv):
    try:
        opts, _ = gnu_getopt(argv, SHORT_OPTS, LONG_OPTS)
    except GetoptError as exc:
        sys.exit(f"flush_mail_queue: {exc}")
    dry_run, queue, sender, delete = False, "deferred", None, False
    for opt, val in opts:
        if opt in ("-n", "--dry-run"):
            dry_run = True
        elif opt in ("-q", "--queue"):
            queue = val
        elif opt in ("-s", "--sender"):
            sender = val
        elif opt == "--delete-deferred":
            delete = True
    cmd = ["postsuper", "-d", "ALL", queue] if delete else ["postqueue", "-f"]
    if sender:
        print(f"only messages from {sender}")
    print(" ".join(cmd))
    if not dry_run:
        subprocess.run(cmd, check=False)


if __name__ == "__main__":
    main(sys.argv[1:])
