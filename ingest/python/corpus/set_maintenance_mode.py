#!/usr/bin/env python3
"""Put a site into (or out of) maintenance mode by toggling the flag file.

Usage: set_maintenance_mode.py SITE on|off [MESSAGE]
"""
import pathlib
import sys

FLAG_DIR = pathlib.Path("/etc/nginx/maintenance")


def main() -> int:
    if len(sys.argv) < 3 or sys.argv[2] not in ("on", "off"):
        print(__doc__, file=sys.stderr)
        return 2
    site, state = sys.argv[1], sys.argv[2]
    message = " ".join(sys.argv[3:]) or "Back soon."
    flag = FLAG_DIR / f"{site}.flag"
    if state == "on":
        flag.write_text(message + "\n", encoding="utf-8")
    else:
        flag.unlink(missing_ok=True)
    print(f"{site}: maintenance {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
