#!/usr/bin/env python3
"""Ping every address in a subnet and print the ones that answer."""
import getopt
import ipaddress
import subprocess
import sys


def usage():
    print("usage: ping_sweep.py [-h] [-c COUNT] [-t TIMEOUT] [-v] [--json] SUBNET")


def main():
    try:
        opts, args = getopt.getopt(sys.argv[1:], "hc:t:v", ["help", "count=", "timeout=", "json"])
    except getopt.GetoptError as err:
        print(err, file=sys.stderr)
        usage()
        return 2
    count, timeout, verbose, as_json = 1, 1, False, False
    for opt, value in opts:
        if opt in ("-h", "--help"):
            usage()
            return 0
        if opt in ("-c", "--count"):
            count = int(value)
        elif opt in ("-t", "--timeout"):
            timeout = int(value)
        elif opt == "-v":
            verbose = True
        elif opt == "--json":
            as_json = True
    if len(args) != 1:
        usage()
        return 2
    alive = []
    for host in ipaddress.ip_network(args[0]).hosts():
        rc = subprocess.run(["ping", "-c", str(count), "-W", str(timeout), str(host)],
                            capture_output=True, check=False).returncode
        if rc == 0:
            alive.append(str(host))
        elif verbose:
            print(f"{host} did not answer", file=sys.stderr)
    print(alive if as_json else "\n".join(alive))
    return 0


if __name__ == "__main__":
    sys.exit(main())
