#!/usr/bin/env bash
# One benchmark step: as short as a script gets.
exit 0
