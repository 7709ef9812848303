#!/usr/bin/env python3
"""Test harness for introspect.py.

1. Corpus check: runs introspect.py on every script in corpus/ and compares
   each JSON object with the hand-written ``<script>.expected.json`` next to
   it; prints a unified diff for every mismatch.

2. Cross-check against argparse itself, using CPython's own command-line
   modules (json.tool, http.server, zipfile, uuid, calendar, trace, gzip, ast)
   from the running interpreter's stdlib directory.  introspect.py reads the
   source statically; the reference is obtained by *running* the module in a
   child process with ``argparse.ArgumentParser.parse_args`` monkeypatched to
   raise a private exception carrying the parser, then reading
   ``parser._actions``.  No corpus script is ever imported or executed.

Exit status 1 on any corpus mismatch, or on any option mismatch in a module
whose parser was captured (json.tool and http.server must be captured and
match completely).
"""
from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
INTROSPECT = ROOT / "ingest" / "python" / "introspect.py"
CORPUS = ROOT / "test" / "fixtures" / "corpus-python"

STDLIB_MODULES = [
    # (module name for runpy, candidate source files relative to stdlib dir)
    ("json.tool", ["json/tool.py"]),
    ("http.server", ["http/server.py"]),
    ("zipfile", ["zipfile/__init__.py", "zipfile.py"]),
    ("uuid", ["uuid.py"]),
    ("calendar", ["calendar.py"]),
    ("trace", ["trace.py"]),
    ("gzip", ["gzip.py"]),
    ("ast", ["ast.py"]),
]
MUST_MATCH = {"json.tool", "http.server"}

# Runs in a child process: capture the ArgumentParser the module builds.
CAPTURE_CODE = r'''
import argparse, json, runpy, sys, io

MARK = "@@CAPTURED@@"

class _Captured(BaseException):
    def __init__(self, parser):
        self.parser = parser

def _raise(self, *args, **kwargs):
    raise _Captured(self)

argparse.ArgumentParser.parse_args = _raise
argparse.ArgumentParser.parse_known_args = _raise

def _jsonable(value):
    try:
        json.dumps(value)
        return {"literal": True, "value": value}
    except (TypeError, ValueError):
        if isinstance(value, tuple):
            return _jsonable(list(value))
        return {"literal": False, "repr": repr(value)}

def _type_name(t):
    if t is None:
        return None
    return getattr(t, "__qualname__", None) or type(t).__qualname__

def _dump(parser, how):
    actions = []
    for a in parser._actions:
        actions.append({
            "class": type(a).__name__,
            "option_strings": list(a.option_strings),
            "dest": a.dest,
            "default": _jsonable(a.default),
            "nargs": a.nargs,
            "type": _type_name(a.type),
            "choices": list(a.choices) if a.choices is not None else None,
            "required": bool(a.required),
            "help": a.help,
            "metavar": list(a.metavar) if isinstance(a.metavar, tuple) else a.metavar,
        })
    sys.__stdout__.write(MARK + json.dumps({"captured": True, "how": how, "actions": actions}) + "\n")

name = sys.argv[1]
attempts = []
sys.stdin = io.StringIO("")
try:
    sys.argv = [name, "--help"]
    runpy.run_module(name, run_name="__main__", alter_sys=True)
    attempts.append("runpy.run_module(run_name='__main__') finished without building a parser")
except _Captured as c:
    _dump(c.parser, "runpy.run_module(%r, run_name='__main__')" % name)
    raise SystemExit(0)
except SystemExit as e:
    attempts.append("runpy.run_module exited (%r) before parse_args" % (e.code,))
except Exception as e:
    attempts.append("runpy.run_module raised %s: %s" % (type(e).__name__, e))

# Second strategy: import the module and call a main() function.
try:
    import importlib
    mod = importlib.import_module(name)
    main = getattr(mod, "main", None)
    if callable(main):
        for call_args in ((), ([name, "--help"],)):
            try:
                main(*call_args)
            except _Captured as c:
                _dump(c.parser, "%s.main%r" % (name, call_args))
                raise SystemExit(0)
            except (TypeError, SystemExit, Exception) as e:
                attempts.append("%s.main%r: %s" % (name, call_args, type(e).__name__))
    else:
        attempts.append("module has no main()")
except _Captured:
    raise
except Exception as e:
    attempts.append("import failed: %s" % e)
sys.__stdout__.write(MARK + json.dumps({"captured": False, "attempts": attempts}) + "\n")
'''


# --------------------------------------------------------------------------
def run_introspect(files: list[str], cwd: Path) -> list[dict]:
    proc = subprocess.run([sys.executable, str(INTROSPECT), *files], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"introspect.py exited {proc.returncode}: {proc.stderr}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if len(lines) != len(files):
        raise RuntimeError(f"expected {len(files)} JSON lines, got {len(lines)}")
    return [json.loads(ln) for ln in lines]


def pretty(obj) -> list[str]:
    return json.dumps(obj, indent=2, sort_keys=True).splitlines()


def check_corpus() -> int:
    scripts = sorted(p.name for p in CORPUS.glob("*.py"))
    failures = 0
    results = run_introspect(scripts, CORPUS)
    counts: dict[str, int] = {}
    for script, actual in zip(scripts, results):
        expected_path = CORPUS / f"{script}.expected.json"
        if actual.get("file") != script:
            print(f"FAIL {script}: output out of order (got file={actual.get('file')!r})")
            failures += 1
            continue
        if not expected_path.exists():
            print(f"FAIL {script}: missing {expected_path.name}")
            failures += 1
            continue
        expected = json.loads(expected_path.read_text(encoding="utf-8"))
        counts[expected.get("framework", "?")] = counts.get(expected.get("framework", "?"), 0) + 1
        actual.pop("is_script", None)  # library-vs-script detection is tested by the ingest suite
        if actual != expected:
            failures += 1
            print(f"FAIL {script}")
            for line in difflib.unified_diff(pretty(expected), pretty(actual),
                                             f"{script}.expected.json", "introspect.py", lineterm=""):
                print("    " + line)
    summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    print(f"corpus: {len(scripts) - failures}/{len(scripts)} scripts match ({summary})")
    return failures


# --------------------------------------------------------------------------
def capture_parser(module: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            proc = subprocess.run([sys.executable, "-c", CAPTURE_CODE, module], cwd=tmp,
                                  capture_output=True, text=True, timeout=60,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"captured": False, "attempts": ["child process timed out"]}
    for line in proc.stdout.splitlines():
        if line.startswith("@@CAPTURED@@"):
            return json.loads(line[len("@@CAPTURED@@"):])
    return {"captured": False, "attempts": [f"no result from child (rc={proc.returncode}): "
                                            f"{proc.stderr.strip()[-300:]}"]}


ARRAY_NARGS = {"*", "+", "...", "A..."}
NO_VALUE_ACTIONS = {"store_true", "store_false", "store_const", "append_const", "count",
                    "BooleanOptionalAction"}


def reference_view(a: dict) -> dict:
    """What introspect.py should report for one argparse action."""
    cls = a["class"]
    takes_value = a["nargs"] != 0
    nargs = a["nargs"]
    if cls in ("_StoreTrueAction", "_StoreFalseAction", "BooleanOptionalAction"):
        jtype = "boolean"
    elif cls == "_CountAction":
        jtype = "integer"
    elif cls in ("_StoreConstAction",):
        jtype = None  # depends on const; not compared
    elif cls in ("_AppendAction", "_ExtendAction", "_AppendConstAction") or nargs in ARRAY_NARGS or (
            isinstance(nargs, int) and not isinstance(nargs, bool) and nargs >= 1):
        jtype = "array"
    else:
        jtype = {"int": "integer", "float": "number"}.get(a["type"], "string")
    default = a["default"]
    if cls == "_CountAction" and default == {"literal": True, "value": None}:
        default = {"literal": True, "value": 0}
    metavar = a["metavar"]
    if isinstance(metavar, list):
        metavar = " ".join(metavar)
    return {
        "kind": "option" if a["option_strings"] else "positional",
        "flags": a["option_strings"],
        "name": a["dest"],
        "takes_value": takes_value,
        "nargs": nargs if takes_value else None,
        "type": jtype,
        "default": default,
        "choices": a["choices"],
        "required": a["required"] if a["option_strings"] else None,
        "help": a["help"],
        "metavar": metavar,
    }


def introspect_view(p: dict) -> dict:
    takes_value = p["action"] not in NO_VALUE_ACTIONS
    if "default_expr" in p:
        default = {"literal": False, "expr": p["default_expr"]}
    else:
        default = {"literal": True, "value": p["default"]}
    return {
        "kind": p["kind"],
        "flags": p["flags"],
        "name": p["name"],
        "takes_value": takes_value,
        "nargs": p["nargs"] if takes_value else None,
        "type": p["type"],
        "default": default,
        "choices": p["choices"],
        "required": p["required"] if p["kind"] == "option" else None,
        "help": p["help"],
        "metavar": p["metavar"],
    }


def compare_action(ref: dict, got: dict) -> tuple[list[str], str | None]:
    """Return (differences, note about a default that could not be compared)."""
    diffs, note = [], None
    for key in ("kind", "flags", "name", "takes_value", "nargs", "choices", "required", "help", "metavar"):
        if ref[key] != got[key]:
            diffs.append(f"{key}: argparse={ref[key]!r} introspect={got[key]!r}")
    if ref["type"] is not None and ref["type"] != got["type"]:
        diffs.append(f"type: argparse={ref['type']!r} introspect={got['type']!r}")
    rd, gd = ref["default"], got["default"]
    if not gd["literal"]:
        # introspect says the default is computed at run time; argparse has its value.
        shown = rd.get("value", rd.get("repr"))
        note = f"default of {ref['name']!r} is non-literal in source ({gd['expr']}; runtime value {shown!r}); not compared"
    elif not rd["literal"]:
        diffs.append(f"default: argparse has non-literal {rd['repr']} but introspect reports literal {gd['value']!r}")
    elif rd["value"] != gd["value"]:
        diffs.append(f"default: argparse={rd['value']!r} introspect={gd['value']!r}")
    return diffs, note


def cross_check() -> int:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    failures = 0
    print(f"cross-check against argparse (stdlib: {stdlib})")
    for module, candidates in STDLIB_MODULES:
        path = next((stdlib / c for c in candidates if (stdlib / c).exists()), None)
        if path is None:
            print(f"  {module}: SOURCE NOT FOUND ({', '.join(candidates)})")
            if module in MUST_MATCH:
                failures += 1
            continue
        got = run_introspect([str(path)], HERE)[0]
        ref = capture_parser(module)
        if not ref.get("captured"):
            reason = "; ".join(ref.get("attempts", []))
            print(f"  {module}: PARSER NOT CAPTURED ({reason}); introspect reported "
                  f"framework={got['framework']!r} with {len(got['parameters'])} parameters -- "
                  f"nothing compared")
            if module in MUST_MATCH:
                failures += 1
            continue
        actions = [a for a in ref["actions"] if a["class"] not in ("_HelpAction", "_VersionAction")]
        params = list(got["parameters"])
        matched, notes, problems = 0, [], []
        for action in actions:
            rv = reference_view(action)
            idx = next((i for i, p in enumerate(params)
                        if p["flags"] == rv["flags"] and p["name"] == rv["name"]), None)
            if idx is None:
                problems.append(f"missing {rv['flags'] or rv['name']!r} (dest {rv['name']!r})")
                continue
            diffs, note = compare_action(rv, introspect_view(params.pop(idx)))
            if diffs:
                problems.append(f"{rv['flags'] or rv['name']}: " + "; ".join(diffs))
            else:
                matched += 1
            if note:
                notes.append(note)
        for extra in params:
            problems.append(f"extra parameter reported by introspect: {extra['flags'] or extra['name']!r}")
        status = "OK" if not problems else "MISMATCH"
        print(f"  {module}: {status} {matched}/{len(actions)} arguments matched "
              f"(flags, dest, default, takes-value, nargs, type, choices, required, help, metavar; "
              f"captured via {ref['how']})")
        for note in notes:
            print(f"      note: {note}")
        for problem in problems:
            print(f"      {problem}")
        if problems:
            failures += 1
    return failures


def main() -> int:
    failures = check_corpus()
    failures += cross_check()
    print("PASS" if not failures else f"FAIL ({failures} problem(s))")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
