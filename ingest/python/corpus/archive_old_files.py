#!/usr/bin/env python
"""Move files older than N days into a dated tar archive (legacy cron job)."""
import os
import sys
import tarfile
import time
from optparse import OptionParser


def main():
    parser = OptionParser(usage="%prog [options] DIRECTORY...",
                          description="Archive and remove old files.")
    parser.add_option("-d", "--days", type="int", dest="days", default=30,
                      help="archive files older than DAYS days [default: %default]")
    parser.add_option("-o", "--output-dir", dest="output_dir", metavar="DIR",
                      help="where archives are written")
    parser.add_option("-c", "--compression", type="choice", choices=["gz", "bz2", "xz"],
                      help="archive compression")
    parser.add_option("-x", "--exclude", action="append", dest="excludes",
                      help="glob to leave alone (repeatable)")
    parser.add_option("-n", "--dry-run", action="store_true",
                      help="list what would be archived")
    parser.add_option("-v", action="count", dest="verbosity")
    parser.add_option("--keep", action="store_false", dest="remove",
                      help="keep originals after archiving")
    parser.set_defaults(compression="gz", output_dir="/var/archive")
    options, args = parser.parse_args()
    if not args:
        parser.error("no directory given")

    cutoff = time.time() - options.days * 86400
    stamp = time.strftime("%Y%m%d")
    for directory in args:
        name = os.path.join(options.output_dir, "%s-%s.tar.%s" % (
            os.path.basename(directory.rstrip("/")), stamp, options.compression))
        old = [os.path.join(directory, f) for f in os.listdir(directory)
               if os.path.getmtime(os.path.join(directory, f)) < cutoff]
        if options.dry_run:
            print("\n".join(old))
            continue
        with tarfile.open(name, "w:" + options.compression) as tar:
            for path in old:
                tar.add(path)
                if options.remove is not False:
                    os.remove(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
