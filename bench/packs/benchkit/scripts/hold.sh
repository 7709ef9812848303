#!/usr/bin/env bash
# The fleet benchmark's long step: sleeps $1 seconds.
sleep "$1"
