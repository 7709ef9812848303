#!/usr/bin/env python3
"""Runs a StackStorm python-script action (a class with run(**kwargs)) the way st2's runner would.

Usage: st2_python_shim.py <entry_point.py>   (parameters: one JSON object on stdin)

It provides a minimal `st2common.runners.base_action.Action` (config, logger, action_service stub)
so the action module imports unchanged, instantiates the single Action subclass the module defines,
calls run(**parameters) and prints the result as JSON. A (False, result) tuple or an exception
fails the run (exit 1); (True, result) or a plain value succeeds.
"""
import importlib.util
import json
import logging
import os
import sys
import types


class Action:  # the st2 base class, as far as actions use it
    def __init__(self, config=None, action_service=None):
        self.config = config or {}
        self.action_service = action_service
        self.logger = logging.getLogger(type(self).__name__)


def install_fake_st2():
    for name in ("st2common", "st2common.runners", "st2common.runners.base_action"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["st2common.runners.base_action"].Action = Action


def main():
    if len(sys.argv) != 2:
        print("usage: st2_python_shim.py <entry_point.py> < parameters.json", file=sys.stderr)
        return 2
    entry = os.path.abspath(sys.argv[1])
    raw = sys.stdin.read()
    params = json.loads(raw) if raw.strip() else {}
    install_fake_st2()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    sys.path.insert(0, os.path.dirname(entry))
    spec = importlib.util.spec_from_file_location("st2_action", entry)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Action) and v is not Action]
    if len(classes) != 1:
        print(f"{entry}: expected one Action subclass, found {len(classes)}", file=sys.stderr)
        return 2
    result = classes[0](config={}).run(**params)
    ok = True
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], bool):
        ok, result = result
    print(json.dumps(result, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
