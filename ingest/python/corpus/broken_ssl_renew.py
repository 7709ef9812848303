#!/usr/bin/env python
"""Renew Let's Encrypt certificates and reload nginx (Python 2 era script)."""
import optparse
import subprocess

parser = optparse.OptionParser()
parser.add_option("--staging", action="store_true", help="use the staging CA")
options, args = parser.parse_args()

if options.staging:
    print "using staging CA"
subprocess.call(["certbot", "renew", "--quiet"])
subprocess.call(["systemctl", "reload", "nginx"])
