#!/usr/bin/env python
"""Nagios plugin: alert when the local clock drifts from the NTP servers.

Exit codes follow the monitoring plugin guidelines.
"""
import optparse
import subprocess
import sys

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3


def parse_args(argv):
    parser = optparse.OptionParser(version="%prog 2.1")
    parser.add_option("-H", "--host", action="append", dest="servers",
                      default=[], help="NTP server to query (repeatable)")
    parser.add_option("-q", "--quiet", action="store_false", dest="verbose", default=True)

    thresholds = optparse.OptionGroup(parser, "Thresholds", "Offsets are in seconds.")
    thresholds.add_option("-w", "--warning", type="float", default=0.5, metavar="SECONDS")
    thresholds.add_option("-c", "--critical", type="float", default=1.0, metavar="SECONDS")
    parser.add_option_group(thresholds)

    advanced = parser.add_option_group("Advanced")
    advanced.add_option("--samples", type=int, default=4, help="queries per server")
    advanced.add_option("--timeout", type="int", default=10, help="seconds per query")
    return parser.parse_args(argv)


def offset(server, samples, timeout):
    out = subprocess.run(["ntpdate", "-q", "-p", str(samples), server], capture_output=True,
                         text=True, timeout=timeout, check=False).stdout
    for token in out.split():
        try:
            return abs(float(token))
        except ValueError:
            continue
    return None


if __name__ == "__main__":
    opts, _ = parse_args(sys.argv[1:])
    worst = None
    for srv in opts.servers or ["pool.ntp.org"]:
        value = offset(srv, opts.samples, opts.timeout)
        if value is not None:
            worst = value if worst is None else max(worst, value)
    if worst is None:
        print("NTP UNKNOWN - no server answered")
        sys.exit(UNKNOWN)
    state = CRITICAL if worst >= opts.critical else WARNING if worst >= opts.warning else OK
    print("NTP %s - offset %.3fs" % (("OK", "WARNING", "CRITICAL")[state], worst))
    sys.exit(state)
