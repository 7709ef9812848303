#!/usr/bin/env python3
"""Statically describe the command-line parameters of Python scripts.

Reads each script with the standard library ``ast`` module -- the scripts are
never executed or imported -- and prints one JSON object per input file (JSON
Lines, input order).  Understands argparse, click, optparse and getopt, and
notices scripts that only read ``sys.argv``.

Output object (one per line)::

    {"file", "description", "framework", "parameters", "subcommands", "warnings", "is_script"}

Each parameter has the keys name, kind, flags, type, items_type, default
(plus default_expr when the default is not a literal), required, choices,
help, metavar, nargs, action, group, mutex_group, position and subcommand.

The exit status is 0 even when a file cannot be read or parsed; such problems
are reported in the file's "warnings".
"""
from __future__ import annotations

import argparse
import ast
import json
import math
import os
import sys
from typing import Any

# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

NOTLIT = object()  # sentinel: "no literal value available"

ARGPARSE_CONSTANTS = {
    "argparse.SUPPRESS": "==SUPPRESS==",
    "argparse.OPTIONAL": "?",
    "argparse.ZERO_OR_MORE": "*",
    "argparse.ONE_OR_MORE": "+",
    "argparse.REMAINDER": "...",
    "argparse.PARSER": "A...",
}
PATH_TYPES = {
    "pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath",
    "pathlib.WindowsPath", "pathlib.PurePosixPath", "pathlib.PureWindowsPath",
}
ARRAY_NARGS = {"*", "+", "...", "A..."}
NO_VALUE_ACTIONS = {"store_true", "store_false", "store_const", "append_const",
                    "count", "help", "version", "BooleanOptionalAction"}
STR_METHODS = {"strip", "lstrip", "rstrip", "lower", "upper", "split",
               "splitlines", "partition", "replace", "format", "join"}


def to_json(value: Any) -> Any:
    """Convert a Python literal to a JSON-compatible value, or NOTLIT."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else NOTLIT
    if isinstance(value, (list, tuple)):
        out = [to_json(v) for v in value]
        return NOTLIT if any(v is NOTLIT for v in out) else out
    if isinstance(value, (set, frozenset)):
        try:
            items = sorted(value)
        except TypeError:
            return NOTLIT
        return to_json(items)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                return NOTLIT
            jv = to_json(v)
            if jv is NOTLIT:
                return NOTLIT
            out[k] = jv
        return out
    return NOTLIT


def literal_of(node: ast.AST | None) -> Any:
    """Strict ast.literal_eval of a node, converted to JSON, else NOTLIT."""
    if node is None:
        return NOTLIT
    try:
        value = ast.literal_eval(node)
    except Exception:  # noqa: BLE001 - anything non-literal
        return NOTLIT
    return to_json(value)


def first_paragraph(text: str | None) -> str:
    """First paragraph of a (doc)string, lines joined by single spaces."""
    if not text:
        return ""
    text = text.split("\f", 1)[0]
    lines = [ln.strip() for ln in text.expandtabs().splitlines()]
    para: list[str] = []
    for ln in lines:
        if not ln:
            if para:
                break
            continue
        if ln == "\b":
            continue
        para.append(ln)
    return " ".join(para)


def json_scalar_of_python(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def items_of(scalar: str) -> str | None:
    return scalar if scalar in ("string", "integer", "number") else None


# --------------------------------------------------------------------------
# abstract values used by the (very small) abstract interpreter
# --------------------------------------------------------------------------

class Const:
    """A value known at analysis time (a literal or a resolved constant)."""

    def __init__(self, value: Any):
        self.value = value


class Seq:
    """A list/tuple display whose items are abstract values (or None)."""

    def __init__(self, items: list):
        self.items = items


class Forwarded:
    """A function's *args or **kwargs, with the call site's nodes and values: forwarded by `f(*args, **kwargs)`."""

    def __init__(self, args: list[tuple[ast.AST, Any]], kwargs: dict[str, tuple[ast.AST, Any]]):
        self.args = args
        self.kwargs = kwargs


class FuncRef:
    def __init__(self, node: ast.AST, env: "Env"):
        self.node = node
        self.env = env


class ParserClass:
    """A class defined in the file that subclasses argparse.ArgumentParser."""


class ArgParser:
    def __init__(self, line: int):
        self.line = line
        self.description: str | None = None
        self.prefix_chars = "-"
        self.params: list[dict] = []
        self.children: list["ArgParser"] = []
        self.subcommand: str | None = None
        self.sub_help: str | None = None
        self.is_parent = False
        self.is_sub = False
        self.defaults: dict[str, tuple] = {}
        self.n_positional = 0


class ArgGroup:
    def __init__(self, parser: ArgParser, title: str | None, mutex: int | None):
        self.parser = parser
        self.title = title
        self.mutex = mutex


class Subparsers:
    def __init__(self, parser: ArgParser):
        self.parser = parser


class OptParser:
    def __init__(self, line: int):
        self.line = line
        self.description: str | None = None
        self.params: list[dict] = []
        self.defaults: dict[str, tuple] = {}


class OptGroup:
    def __init__(self, parser: OptParser | None, title: str | None):
        self.parser = parser
        self.title = title


class OptSpec:
    """Result of optparse.make_option(...)."""

    def __init__(self, call: ast.Call, argvals: list, kwvals: dict):
        self.call = call
        self.argvals = argvals
        self.kwvals = kwvals


class TupleResult(Seq):
    pass


OBJECT_TYPES = (ArgParser, ArgGroup, Subparsers, OptParser, OptGroup, OptSpec)


class Env:
    def __init__(self, parent: "Env | None"):
        self.vars: dict[str, Any] = {}
        self.parent = parent
        self.global_names: set[str] = set()

    def lookup(self, name: str) -> Any:
        env: Env | None = self
        while env is not None:
            if name in env.vars:
                return env.vars[name]
            env = env.parent
        return None

    def root(self) -> "Env":
        env = self
        while env.parent is not None:
            env = env.parent
        return env


class Frame:
    def __init__(self):
        self.ret: Any = None


# --------------------------------------------------------------------------
# the analyser
# --------------------------------------------------------------------------

class Analyzer:
    def __init__(self, tree: ast.Module, source: str):
        self.tree = tree
        self.source = source
        self.warnings: list[dict] = []
        self.imports: dict[str, str] = {}
        self.module_doc = ast.get_docstring(tree, clean=True)
        self.module_env = Env(None)
        self.argparsers: list[ArgParser] = []
        self.optparsers: list[OptParser] = []
        self.getopt_params: list[dict] = []
        self.getopt_line: int | None = None
        self.mutex_counter = 0
        self.required_mutex: set[int] = set()  # add_mutually_exclusive_group(required=True)
        # add_argument calls reached on a parser the analysis followed (to tell the ones it could not)
        self.followed_add_argument: set[tuple[int, int]] = set()
        self.memo: dict[tuple, Any] = {}
        self.stack: set[int] = set()
        self.executed: set[int] = set()
        self.funcrefs: list[FuncRef] = []
        self._collect_imports()

    # ---------------------------------------------------------------- utils
    def warn(self, line: int | None, message: str) -> None:
        self.warnings.append({"line": int(line or 0), "message": message})

    def _collect_imports(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.imports[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        self.imports.setdefault(top, top)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    self.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def canonical(self, node: ast.AST | None) -> str | None:
        """Dotted name with import aliases resolved (argparse.ArgumentParser)."""
        if isinstance(node, ast.Name):
            return self.imports.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.canonical(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    @staticmethod
    def dotted(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            base = Analyzer.dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    @staticmethod
    def value_literal(v: Any) -> Any:
        """Python value of an abstract value, or NOTLIT."""
        if isinstance(v, Const):
            return v.value
        if isinstance(v, Seq):
            out = [Analyzer.value_literal(i) for i in v.items]
            return NOTLIT if any(i is NOTLIT for i in out) else out
        return NOTLIT

    def lit_str(self, v: Any) -> str | None:
        val = self.value_literal(v)
        return val if isinstance(val, str) else None

    def lit_list(self, v: Any) -> list | None:
        val = self.value_literal(v)
        if isinstance(val, dict):
            val = list(val)
        if isinstance(val, (list, tuple, set, frozenset)):
            j = to_json(list(val) if not isinstance(val, (set, frozenset)) else val)
            return None if j is NOTLIT else j
        return None

    def default_value(self, node: ast.AST, value: Any) -> Any:
        """The literal a default is, or evaluates to (a module constant, DEFAULT_KEEP = 3), else NOTLIT."""
        literal = literal_of(node)
        if literal is not NOTLIT:
            return literal
        evaluated = self.value_literal(value)
        return NOTLIT if evaluated is NOTLIT else to_json(evaluated)

    def range_bounds(self, node: ast.AST | None) -> tuple[int, int] | None:
        """choices=range(1, 366): the integers 1 to 365, said as a minimum and a maximum."""
        if not (isinstance(node, ast.Call) and self.canonical(node.func) == "range" and not node.keywords
                and 1 <= len(node.args) <= 3):
            return None
        vals = [literal_of(a) for a in node.args]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            return None
        start, stop, step = (0, vals[0], 1) if len(vals) == 1 else (vals[0], vals[1], vals[2] if len(vals) == 3 else 1)
        return (start, stop - 1) if step == 1 and stop > start else None

    def apply_bounds(self, param: dict, kwnodes: dict) -> None:
        bounds = self.range_bounds(kwnodes.get("choices"))
        if bounds is not None and param["type"] == "integer":
            param["minimum"], param["maximum"] = bounds

    def choices_of(self, kwvals: dict, kwnodes: dict, flags: list[str]) -> list | None:
        """Literal choices; choices computed when the script runs are said in a warning, not dropped silently."""
        if "choices" not in kwnodes:
            return None
        choices = self.lit_list(kwvals.get("choices"))
        if choices is None and self.range_bounds(kwnodes["choices"]) is None:
            shown = next((f for f in flags if f.startswith("--")), flags[0])
            self.warn(kwnodes["choices"].lineno, f"the choices of {shown} are computed when the script runs "
                                                 f"({ast.unparse(kwnodes['choices'])}); any value is passed on and the script checks it")
        return choices

    def lit_metavar(self, v: Any) -> str | None:
        val = self.value_literal(v)
        if isinstance(val, str):
            return val
        if isinstance(val, (list, tuple)) and all(isinstance(x, str) for x in val):
            return " ".join(val)
        return None

    # ------------------------------------------------------------ executor
    def run(self) -> None:
        self.exec_block(self.tree.body, self.module_env, Frame())
        # functions never called from reachable code (e.g. entry points)
        progress = True
        while progress:
            progress = False
            for fr in list(self.funcrefs):
                if id(fr.node) not in self.executed:
                    self.call_function(fr, [], {})
                    progress = True

    def exec_block(self, stmts: list, env: Env, frame: Frame) -> None:
        for stmt in stmts:
            try:
                self.exec_stmt(stmt, env, frame)
            except RecursionError:
                self.warn(getattr(stmt, "lineno", 0), "statement too deeply nested; skipped")

    def exec_stmt(self, s: ast.stmt, env: Env, frame: Frame) -> None:
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
            fr = FuncRef(s, env)
            self.funcrefs.append(fr)
            self.bind_name(s.name, fr, env)
        elif isinstance(s, ast.ClassDef):
            if any(self.canonical(b) == "argparse.ArgumentParser" for b in s.bases):
                self.bind_name(s.name, ParserClass(), env)
                return
            class_env = Env(env)
            self.exec_block(s.body, class_env, Frame())
            if s.name not in env.vars:
                self.bind_name(s.name, None, env)
        elif isinstance(s, ast.Assign):
            value = self.eval(s.value, env)
            for target in s.targets:
                self.bind(target, value, env)
        elif isinstance(s, ast.AnnAssign):
            if s.value is not None:
                self.bind(s.target, self.eval(s.value, env), env)
        elif isinstance(s, ast.AugAssign):
            self.eval(s.value, env)
        elif isinstance(s, ast.Expr):
            self.eval(s.value, env)
        elif isinstance(s, ast.Return):
            if s.value is not None:
                value = self.eval(s.value, env)
                if frame.ret is None and value is not None:
                    frame.ret = value
        elif isinstance(s, (ast.If, ast.While)):
            self.eval(s.test, env)
            self.exec_block(s.body, env, frame)
            self.exec_block(s.orelse, env, frame)
        elif isinstance(s, (ast.For, ast.AsyncFor)):
            self.eval(s.iter, env)
            self.bind(s.target, None, env)
            self.exec_block(s.body, env, frame)
            self.exec_block(s.orelse, env, frame)
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            for item in s.items:
                value = self.eval(item.context_expr, env)
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, value, env)
            self.exec_block(s.body, env, frame)
        elif isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
            self.exec_block(s.body, env, frame)
            for handler in s.handlers:
                if handler.name:
                    self.bind_name(handler.name, None, env)
                self.exec_block(handler.body, env, frame)
            self.exec_block(s.orelse, env, frame)
            self.exec_block(s.finalbody, env, frame)
        elif isinstance(s, ast.Match):
            self.eval(s.subject, env)
            for case in s.cases:
                self.exec_block(case.body, env, frame)
        elif isinstance(s, ast.Global):
            env.global_names.update(s.names)
        elif isinstance(s, ast.Raise):
            if s.exc is not None:
                self.eval(s.exc, env)
        elif isinstance(s, ast.Assert):
            self.eval(s.test, env)
        # Import, Pass, Break, Continue, Delete, Nonlocal: nothing to do

    def bind_name(self, name: str, value: Any, env: Env) -> None:
        if name in env.global_names:
            env.root().vars[name] = value
        else:
            env.vars[name] = value

    def bind(self, target: ast.AST, value: Any, env: Env) -> None:
        if isinstance(target, ast.Name):
            self.bind_name(target.id, value, env)
        elif isinstance(target, ast.Attribute):
            name = self.dotted(target)
            if name:
                env.vars[name] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = value.items if isinstance(value, Seq) else None
            if isinstance(value, Const) and isinstance(value.value, (tuple, list)):
                items = [Const(v) for v in value.value]
            if items is not None and len(items) == len(target.elts):
                for t, v in zip(target.elts, items):
                    self.bind(t, v, env)
            else:
                for t in target.elts:
                    self.bind(t, None, env)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, None, env)

    # ---------------------------------------------------------- evaluation
    def eval(self, node: ast.AST | None, env: Env) -> Any:
        if node is None:
            return None
        if isinstance(node, ast.Constant):
            return Const(node.value)
        if isinstance(node, ast.Name):
            value = env.lookup(node.id)
            if value is None and node.id == "__doc__":
                return Const(self.module_doc)
            return value
        if isinstance(node, ast.Attribute):
            name = self.dotted(node)
            if name and "." in name:
                value = env.lookup(name)
                if value is not None:
                    return value
            canon = self.canonical(node)
            if canon in ARGPARSE_CONSTANTS:
                return Const(ARGPARSE_CONSTANTS[canon])
            self.eval(node.value, env)
            return None
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = [self.eval(e, env) for e in node.elts]
            return Seq(items)
        if isinstance(node, ast.Dict):
            for k in node.keys:
                self.eval(k, env)
            for v in node.values:
                self.eval(v, env)
            lit = literal_of(node)
            return None if lit is NOTLIT else Const(lit)
        if isinstance(node, ast.Call):
            return self.eval_call(node, env)
        if isinstance(node, ast.BinOp):
            left = self.eval(node.left, env)
            right = self.eval(node.right, env)
            lv, rv = self.value_literal(left), self.value_literal(right)
            if lv is NOTLIT or rv is NOTLIT:
                return None
            try:
                if isinstance(node.op, ast.Add) and type(lv) is type(rv) and isinstance(lv, (str, int, float, list)):
                    return Const(lv + rv)
                if isinstance(node.op, ast.Mod) and isinstance(lv, str):
                    return Const(lv % (tuple(rv) if isinstance(rv, list) else rv))
                if isinstance(node.op, (ast.Mult, ast.Sub)) and isinstance(lv, (int, float)) and isinstance(rv, (int, float)):
                    return Const(lv * rv if isinstance(node.op, ast.Mult) else lv - rv)
            except Exception:  # noqa: BLE001
                return None
            return None
        if isinstance(node, ast.UnaryOp):
            operand = self.value_literal(self.eval(node.operand, env))
            if isinstance(node.op, ast.USub) and isinstance(operand, (int, float)) and not isinstance(operand, bool):
                return Const(-operand)
            return None
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.Constant):
                    parts.append(str(value.value))
                    continue
                inner = self.value_literal(self.eval(value.value, env))
                if inner is NOTLIT or value.conversion != -1 or value.format_spec is not None:
                    return None
                parts.append(str(inner))
            return Const("".join(parts))
        if isinstance(node, ast.Subscript):
            base = self.value_literal(self.eval(node.value, env))
            index = self.eval(node.slice, env) if not isinstance(node.slice, ast.Slice) else None
            idx = self.value_literal(index) if index is not None else NOTLIT
            if base is not NOTLIT and isinstance(idx, int) and isinstance(base, (str, list, tuple)):
                try:
                    return Const(base[idx])
                except IndexError:
                    return None
            return None
        if isinstance(node, ast.NamedExpr):
            value = self.eval(node.value, env)
            self.bind(node.target, value, env)
            return value
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return None
        if isinstance(node, ast.IfExp):
            self.eval(node.test, env)
            self.eval(node.body, env)
            self.eval(node.orelse, env)
            return None
        if isinstance(node, (ast.Await, ast.Starred)):
            return self.eval(node.value, env)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.eval(child, env)
        return None

    def eval_call(self, call: ast.Call, env: Env) -> Any:
        func = call.func
        receiver = None
        func_value = None
        if isinstance(func, ast.Attribute):
            receiver = self.eval(func.value, env)
        else:
            func_value = self.eval(func, env)
        # `*args`/`**kwargs` a helper received are spliced in with the nodes and values of its call site
        # (def add(*a, **kw): parser.add_option(*a, **kw)), as if the call had been written there.
        args: list[tuple[ast.AST, Any]] = []
        keywords: dict[str, tuple[ast.AST, Any]] = {}
        dynamic = False
        for a in call.args:
            value = self.eval(a, env)
            if isinstance(a, ast.Starred):
                if isinstance(value, Forwarded):
                    args.extend(value.args)
                else:
                    dynamic = True
                    args.append((a, value))
            else:
                args.append((a, value))
        for kw in call.keywords:
            value = self.eval(kw.value, env)
            if kw.arg is not None:
                keywords[kw.arg] = (kw.value, value)
            elif isinstance(value, Forwarded):
                keywords.update(value.kwargs)
            else:
                dynamic = True
        if any(isinstance(a, ast.Starred) for a in call.args) or any(kw.arg is None for kw in call.keywords):
            spliced = ast.Call(func=call.func, args=[n for n, _ in args],
                               keywords=[ast.keyword(arg=k, value=n) for k, (n, _) in keywords.items()])
            call = ast.copy_location(spliced, call)
            call.end_lineno, call.end_col_offset = call.lineno, call.col_offset
        argvals = [v for _, v in args]
        kwvals = {k: v for k, (_, v) in keywords.items()}
        kwnodes = {k: n for k, (n, _) in keywords.items()}

        # method calls on analysed objects
        if isinstance(func, ast.Attribute) and isinstance(receiver, OBJECT_TYPES):
            return self.method_call(receiver, func.attr, call, argvals, kwvals, kwnodes, dynamic)
        # string methods on constants (e.g. __doc__.strip())
        if isinstance(func, ast.Attribute) and isinstance(receiver, Const) and isinstance(receiver.value, str):
            if func.attr in STR_METHODS:
                args = [self.value_literal(a) for a in argvals]
                kws = {k: self.value_literal(v) for k, v in kwvals.items()}
                if all(a is not NOTLIT for a in args) and all(v is not NOTLIT for v in kws.values()):
                    try:
                        return Const(getattr(receiver.value, func.attr)(*args, **kws))
                    except Exception:  # noqa: BLE001
                        return None
            return None
        if isinstance(func_value, FuncRef):
            return self.call_function(func_value, argvals, kwvals, args, keywords)
        if isinstance(func_value, ParserClass):
            return self.new_argparser(call, argvals, kwvals)

        canon = self.canonical(func)
        # a local variable shadows an imported name
        if isinstance(func, ast.Name) and env.lookup(func.id) is not None:
            canon = None
        if canon == "argparse.ArgumentParser":
            return self.new_argparser(call, argvals, kwvals)
        if canon == "optparse.OptionParser":
            return self.new_optparser(call, argvals, kwvals)
        if canon == "optparse.OptionGroup":
            parser = argvals[0] if argvals else kwvals.get("parser")
            title = self.lit_str(argvals[1]) if len(argvals) > 1 else self.lit_str(kwvals.get("title"))
            return OptGroup(parser if isinstance(parser, OptParser) else None, title)
        if canon in ("optparse.make_option", "optparse.Option"):
            return OptSpec(call, argvals, kwvals)
        if canon in ("getopt.getopt", "getopt.gnu_getopt"):
            self.handle_getopt(call, argvals, kwvals)
            return None
        if canon in ("textwrap.dedent", "inspect.cleandoc") and argvals:
            text = self.lit_str(argvals[0])
            if text is not None:
                import inspect
                import textwrap
                return Const(textwrap.dedent(text) if canon == "textwrap.dedent" else inspect.cleandoc(text))
        return None

    @staticmethod
    def fingerprint(v: Any) -> Any:
        """What a call's memo key keeps of an argument: analysed objects by identity, known values by value."""
        if isinstance(v, OBJECT_TYPES):
            return ("object", id(v))
        if isinstance(v, Const):
            try:
                return ("const", json.dumps(to_json(v.value), sort_keys=True))
            except (TypeError, ValueError):
                return ("const", repr(v.value))
        if isinstance(v, Seq):
            return ("seq", tuple(Analyzer.fingerprint(i) for i in v.items))
        return None

    def call_function(self, fr: FuncRef, argvals: list, kwvals: dict,
                      args: list[tuple[ast.AST, Any]] | None = None,
                      keywords: dict[str, tuple[ast.AST, Any]] | None = None) -> Any:
        node = fr.node
        # a helper called with other literal values (add("-p", type="int")) is another call
        key = (id(node),
               tuple(self.fingerprint(a) for a in argvals),
               tuple(sorted((k, self.fingerprint(v)) for k, v in kwvals.items())))
        if key in self.memo:
            return self.memo[key]
        if id(node) in self.stack:
            return None
        self.memo[key] = None
        self.executed.add(id(node))
        env = Env(fr.env)
        a = node.args
        positional = [p.arg for p in a.posonlyargs + a.args]
        for name in positional + [p.arg for p in a.kwonlyargs]:
            env.vars[name] = None
        for name, value in zip(positional, argvals):
            env.vars[name] = value
        for name, value in kwvals.items():
            if name in env.vars:
                env.vars[name] = value
        args = args if args is not None else [(ast.Constant(None), v) for v in argvals]
        keywords = keywords if keywords is not None else {k: (ast.Constant(None), v) for k, v in kwvals.items()}
        if a.vararg:
            env.vars[a.vararg.arg] = Forwarded(args[len(positional):], {})
        if a.kwarg:
            named = set(positional) | {p.arg for p in a.kwonlyargs}
            env.vars[a.kwarg.arg] = Forwarded([], {k: v for k, v in keywords.items() if k not in named})
        frame = Frame()
        self.stack.add(id(node))
        try:
            self.exec_block(node.body, env, frame)
        finally:
            self.stack.discard(id(node))
        self.memo[key] = frame.ret
        return frame.ret

    # -------------------------------------------------------------- methods
    def method_call(self, obj, method, call, argvals, kwvals, kwnodes, dynamic):
        if method == "add_argument" and isinstance(obj, (ArgParser, ArgGroup)):
            self.followed_add_argument.add((call.lineno, call.col_offset))
        if isinstance(obj, ArgParser):
            if method == "add_argument":
                self.argparse_add(obj, None, None, call, argvals, kwvals, kwnodes, dynamic)
            elif method == "add_argument_group":
                title = self.lit_str(argvals[0]) if argvals else self.lit_str(kwvals.get("title"))
                return ArgGroup(obj, title, None)
            elif method == "add_mutually_exclusive_group":
                group = ArgGroup(obj, None, self.mutex_counter)
                if self.value_literal(kwvals.get("required")) is True:
                    self.required_mutex.add(self.mutex_counter)
                self.mutex_counter += 1
                return group
            elif method == "add_subparsers":
                return Subparsers(obj)
            elif method == "set_defaults":
                self.argparse_set_defaults(obj, kwnodes)
            return None
        if isinstance(obj, ArgGroup):
            if method == "add_argument":
                self.argparse_add(obj.parser, obj.title, obj.mutex, call, argvals, kwvals, kwnodes, dynamic)
            elif method == "add_argument_group":
                title = self.lit_str(argvals[0]) if argvals else self.lit_str(kwvals.get("title"))
                return ArgGroup(obj.parser, title if title is not None else obj.title, None)
            elif method == "add_mutually_exclusive_group":
                group = ArgGroup(obj.parser, obj.title, self.mutex_counter)
                if self.value_literal(kwvals.get("required")) is True:
                    self.required_mutex.add(self.mutex_counter)
                self.mutex_counter += 1
                return group
            elif method == "set_defaults":
                self.argparse_set_defaults(obj.parser, kwnodes)
            return None
        if isinstance(obj, Subparsers):
            if method == "add_parser":
                return self.argparse_add_parser(obj, call, argvals, kwvals)
            return None
        if isinstance(obj, OptParser):
            if method == "add_option":
                self.optparse_add(obj, None, call, argvals, kwvals, kwnodes, dynamic)
            elif method == "add_options":
                specs = argvals[0].items if argvals and isinstance(argvals[0], Seq) else []
                for spec in specs:
                    if isinstance(spec, OptSpec):
                        self.optparse_add_spec(obj, None, spec)
            elif method == "add_option_group":
                if argvals and isinstance(argvals[0], OptGroup):
                    return argvals[0]
                title = self.lit_str(argvals[0]) if argvals else self.lit_str(kwvals.get("title"))
                return OptGroup(obj, title)
            elif method == "set_defaults":
                self.optparse_set_defaults(obj, kwnodes)
            elif method == "set_default" and len(call.args) >= 2:
                dest = self.lit_str(argvals[0])
                if dest:
                    self.optparse_set_defaults(obj, {dest: call.args[1]})
            return None
        if isinstance(obj, OptGroup):
            if method == "add_option" and obj.parser is not None:
                self.optparse_add(obj.parser, obj.title, call, argvals, kwvals, kwnodes, dynamic)
            return None
        return None

    # ------------------------------------------------------------- argparse
    def new_argparser(self, call, argvals, kwvals) -> ArgParser:
        p = ArgParser(call.lineno)
        desc = kwvals.get("description", argvals[2] if len(argvals) > 2 else None)
        p.description = self.lit_str(desc)
        prefix = self.lit_str(kwvals.get("prefix_chars"))
        if prefix:
            p.prefix_chars = prefix
        self.inherit_parents(p, kwvals.get("parents"))
        self.argparsers.append(p)
        return p

    def inherit_parents(self, p: ArgParser, parents_value) -> None:
        if not isinstance(parents_value, Seq):
            return
        for parent in parents_value.items:
            if not isinstance(parent, ArgParser):
                continue
            parent.is_parent = True
            for param in parent.params:
                copy = dict(param)
                copy["flags"] = list(param["flags"])
                copy["subcommand"] = p.subcommand
                if copy["kind"] == "positional":
                    copy["position"] = p.n_positional
                    p.n_positional += 1
                p.params.append(copy)
            p.defaults.update(parent.defaults)

    def argparse_add_parser(self, subs: Subparsers, call, argvals, kwvals):
        name = self.lit_str(argvals[0]) if argvals else self.lit_str(kwvals.get("name"))
        if name is None:
            self.warn(call.lineno, "sub-command with a non-literal name skipped")
            return None
        owner = subs.parser
        child = ArgParser(call.lineno)
        child.subcommand = f"{owner.subcommand} {name}" if owner.subcommand else name
        child.sub_help = self.lit_str(kwvals.get("help"))
        child.description = self.lit_str(kwvals.get("description"))
        child.prefix_chars = owner.prefix_chars
        child.is_sub = True
        self.inherit_parents(child, kwvals.get("parents"))
        owner.children.append(child)
        self.argparsers.append(child)
        return child

    def argparse_set_defaults(self, p: ArgParser, kwnodes: dict) -> None:
        for dest, node in kwnodes.items():
            p.defaults[dest] = (literal_of(node), node)
            for param in p.params:
                if param["name"] == dest:
                    self.apply_default(param, literal_of(node), node)

    def review(self, param: dict, since: int) -> None:
        """Marks a parameter for a person's look with the warnings raised while it was read."""
        said = [w["message"] for w in self.warnings[since:]]
        if param.get("review"):
            said = [param["review"]] + [m for m in said if m not in param["review"]]
        if said:
            param["review"] = "; ".join(said)

    @staticmethod
    def shown_name(param: dict) -> str:
        return next((f for f in param["flags"] if f.startswith("--")), None) or (param["flags"] or [param["name"]])[0]

    def apply_default(self, param: dict, value: Any, node: ast.AST | None) -> None:
        param.pop("default_expr", None)
        if value is NOTLIT:
            param["default"] = None
            since = len(self.warnings)
            self.warn(getattr(node, "lineno", 0), f"the default of {self.shown_name(param)} is computed when the script runs "
                                                  f"({ast.unparse(node)}); it is left to the script")
            # keep key order: default_expr right after default
            items = list(param.items())
            idx = [k for k, _ in items].index("default") + 1
            items.insert(idx, ("default_expr", ast.unparse(node)))
            param.clear()
            param.update(items)
            self.review(param, since)
        else:
            param["default"] = value

    def scalar_type(self, tnode: ast.AST | None, pname: str, framework: str) -> str:
        if tnode is None:
            return "string"
        canon = self.canonical(tnode)
        if canon == "int":
            return "integer"
        if canon == "float":
            return "number"
        if canon == "str" or canon in PATH_TYPES:
            return "string"
        if framework == "optparse" and isinstance(tnode, ast.Constant):
            mapped = {"int": "integer", "long": "integer", "float": "number",
                      "string": "string", "str": "string", "choice": "string"}.get(tnode.value)
            if mapped:
                return mapped
        self.warn(tnode.lineno, f"parameter '{pname}' uses custom type '{ast.unparse(tnode)}'; reported as string")
        return "string"

    def argparse_add(self, p: ArgParser, group_title, mutex, call, argvals, kwvals, kwnodes, dynamic):
        since = len(self.warnings)
        if dynamic:
            self.warn(call.lineno, "add_argument call uses *args/**kwargs; unpacked values are not analysed")
        names = []
        for node, value in zip(call.args, argvals):
            if isinstance(node, ast.Starred):
                continue
            s = self.lit_str(value)
            if s is None or not s:
                self.warn(call.lineno, "add_argument call with a non-literal option name skipped")
                return
            names.append(s)
        if not names and self.lit_str(kwvals.get("dest")):
            # add_argument(dest="file", nargs="?"): a positional named by its dest alone
            names.append(self.lit_str(kwvals.get("dest")))
        if not names:
            self.warn(call.lineno, "add_argument call without option names skipped")
            return
        action = "store"
        custom_action = False
        if "action" in kwnodes:
            a = self.lit_str(kwvals.get("action"))
            if a is not None:
                action = a
            elif self.canonical(kwnodes["action"]) == "argparse.BooleanOptionalAction":
                action = "BooleanOptionalAction"
            else:
                action = ast.unparse(kwnodes["action"])
                custom_action = True
        if action in ("help", "version"):
            return
        chars = p.prefix_chars
        positional = names[0][0] not in chars
        if positional:
            name, flags = names[0], []
        else:
            flags = names
            dest = self.lit_str(kwvals.get("dest"))
            if dest is None:
                long_opts = [o for o in names if len(o) > 1 and o[1] in chars]
                dest = (long_opts[0] if long_opts else names[0]).lstrip(chars).replace("-", "_")
            name = dest
        if action == "BooleanOptionalAction":
            expanded = []
            for flag in flags:
                expanded.append(flag)
                if flag.startswith("--"):
                    expanded.append("--no-" + flag[2:])
            flags = expanded

        nargs = None
        if "nargs" in kwnodes:
            n = self.value_literal(kwvals.get("nargs"))
            if isinstance(n, (int, str)) and not isinstance(n, bool):
                nargs = n
            else:
                self.warn(kwnodes["nargs"].lineno, f"parameter '{name}' has a non-literal nargs")
        tnode = kwnodes.get("type")
        default_given = "default" in kwnodes
        implicit_default: Any = None
        items_type = None
        if custom_action:
            self.warn(kwnodes["action"].lineno, f"parameter '{name}' uses custom action '{action}'; reported as string")
            jtype = "string"
            if tnode is not None:
                jtype = self.scalar_type(tnode, name, "argparse")
        elif action in ("store_true", "store_false"):
            jtype = "boolean"
            implicit_default = action == "store_false"
        elif action == "BooleanOptionalAction":
            jtype = "boolean"
        elif action == "count":
            jtype = "integer"
            implicit_default = 0
        elif action in ("store_const", "append_const"):
            const = literal_of(kwnodes.get("const"))
            scalar = "string" if const is NOTLIT or const is None else json_scalar_of_python(const)
            if action == "append_const":
                jtype, items_type = "array", items_of(scalar)
            else:
                jtype = scalar
        else:
            scalar = self.scalar_type(tnode, name, "argparse")
            is_array = action in ("append", "extend") or nargs in ARRAY_NARGS or (
                isinstance(nargs, int) and nargs >= 1)
            if is_array:
                jtype, items_type = "array", items_of(scalar)
            else:
                jtype = scalar

        if positional:
            required = nargs not in ("?", "*", "...")
        else:
            required = self.value_literal(kwvals.get("required")) is True

        choices = self.choices_of(kwvals, kwnodes, flags or [name])
        param = {
            "name": name,
            "kind": "positional" if positional else "option",
            "flags": flags,
            "type": jtype,
            "items_type": items_type,
            "default": implicit_default,
            "required": required,
            "choices": choices,
            "help": self.lit_str(kwvals.get("help")),
            "metavar": self.lit_metavar(kwvals.get("metavar")),
            "nargs": nargs,
            "action": action,
            "group": group_title,
            "mutex_group": mutex,
            "position": None,
            "subcommand": p.subcommand,
        }
        if default_given:
            self.apply_default(param, self.default_value(kwnodes["default"], kwvals.get("default")), kwnodes["default"])
        elif name in p.defaults:
            value, node = p.defaults[name]
            self.apply_default(param, value, node)
        if positional:
            param["position"] = p.n_positional
            p.n_positional += 1
        self.apply_bounds(param, kwnodes)
        self.review(param, since)
        p.params.append(param)

    # ------------------------------------------------------------- optparse
    def new_optparser(self, call, argvals, kwvals) -> OptParser:
        p = OptParser(call.lineno)
        p.description = self.lit_str(kwvals.get("description"))
        self.optparsers.append(p)
        option_list = kwvals.get("option_list", argvals[1] if len(argvals) > 1 else None)
        if isinstance(option_list, Seq):
            for spec in option_list.items:
                if isinstance(spec, OptSpec):
                    self.optparse_add_spec(p, None, spec)
        return p

    def optparse_add_spec(self, p: OptParser, title, spec: OptSpec) -> None:
        kwnodes = {kw.arg: kw.value for kw in spec.call.keywords if kw.arg is not None}
        dynamic = any(isinstance(a, ast.Starred) for a in spec.call.args) or any(
            kw.arg is None for kw in spec.call.keywords)
        self.optparse_add(p, title, spec.call, spec.argvals, spec.kwvals, kwnodes, dynamic)

    def optparse_set_defaults(self, p: OptParser, kwnodes: dict) -> None:
        for dest, node in kwnodes.items():
            p.defaults[dest] = (literal_of(node), node)
            for param in p.params:
                if param["name"] == dest:
                    self.apply_default(param, literal_of(node), node)

    def optparse_add(self, p: OptParser, title, call, argvals, kwvals, kwnodes, dynamic):
        since = len(self.warnings)
        if argvals and isinstance(argvals[0], OptSpec):
            self.optparse_add_spec(p, title, argvals[0])
            return
        if dynamic:
            self.warn(call.lineno, "add_option call uses *args/**kwargs; unpacked values are not analysed")
        flags = []
        for node, value in zip(call.args, argvals):
            if isinstance(node, ast.Starred):
                continue
            s = self.lit_str(value)
            if not s:
                self.warn(call.lineno, "add_option call with a non-literal option name skipped")
                return
            flags.append(s)
        if not flags:
            self.warn(call.lineno, "add_option call without option names skipped")
            return
        action = self.lit_str(kwvals.get("action")) or "store"
        if action in ("help", "version"):
            return
        dest = self.lit_str(kwvals.get("dest"))
        if dest is None:
            long_opts = [f for f in flags if f.startswith("--")]
            dest = long_opts[0][2:].replace("-", "_") if long_opts else flags[0][1:]
        tnode = kwnodes.get("type")
        if tnode is None and "choices" in kwnodes and action in ("store", "append"):
            tnode = ast.Constant("choice")
        nargs = None
        if "nargs" in kwnodes:
            n = self.value_literal(kwvals.get("nargs"))
            nargs = n if isinstance(n, int) and not isinstance(n, bool) else None
        implicit_default: Any = None
        items_type = None
        if action in ("store_true", "store_false"):
            jtype = "boolean"
            implicit_default = action == "store_false"
        elif action == "count":
            jtype, implicit_default = "integer", 0
        elif action in ("store_const", "append_const"):
            const = literal_of(kwnodes.get("const"))
            scalar = "string" if const is NOTLIT or const is None else json_scalar_of_python(const)
            jtype, items_type = ("array", items_of(scalar)) if action == "append_const" else (scalar, None)
        elif action == "callback":
            self.warn(call.lineno, f"parameter '{dest}' uses a callback; its effect is not analysed")
            jtype = self.scalar_type(tnode, dest, "optparse") if tnode is not None else "boolean"
        else:
            scalar = self.scalar_type(tnode, dest, "optparse")
            if action == "append" or (isinstance(nargs, int) and nargs > 1):
                jtype, items_type = "array", items_of(scalar)
            else:
                jtype = scalar
        param = {
            "name": dest,
            "kind": "option",
            "flags": flags,
            "type": jtype,
            "items_type": items_type,
            "default": implicit_default,
            "required": False,
            "choices": self.choices_of(kwvals, kwnodes, flags or [dest]),
            "help": self.lit_str(kwvals.get("help")),
            "metavar": self.lit_metavar(kwvals.get("metavar")),
            "nargs": nargs,
            "action": action,
            "group": title,
            "mutex_group": None,
            "position": None,
            "subcommand": None,
        }
        if "default" in kwnodes:
            self.apply_default(param, self.default_value(kwnodes["default"], kwvals.get("default")), kwnodes["default"])
        elif dest in p.defaults:
            value, node = p.defaults[dest]
            self.apply_default(param, value, node)
        self.apply_bounds(param, kwnodes)
        self.review(param, since)
        p.params.append(param)

    # --------------------------------------------------------------- getopt
    def handle_getopt(self, call, argvals, kwvals) -> None:
        short_v = argvals[1] if len(argvals) > 1 else kwvals.get("shortopts")
        long_v = argvals[2] if len(argvals) > 2 else kwvals.get("longopts")
        if self.getopt_line is None:
            self.getopt_line = call.lineno
        shortopts = self.lit_str(short_v)
        if shortopts is None:
            self.warn(call.lineno, "getopt short options are not a literal string; not analysed")
            shortopts = ""
        longopts: list = []
        if long_v is not None:
            lv = self.value_literal(long_v)
            if isinstance(lv, str):
                longopts = [lv]
            elif isinstance(lv, list) and all(isinstance(x, str) for x in lv):
                longopts = lv
            else:
                self.warn(call.lineno, "getopt long options are not a literal list; not analysed")
        seen = {f for prm in self.getopt_params for f in prm["flags"]}
        shortopts = shortopts.lstrip("+-")
        i = 0
        while i < len(shortopts):
            letter = shortopts[i]
            takes = i + 1 < len(shortopts) and shortopts[i + 1] == ":"
            i += 2 if takes else 1
            # -h is help only when it takes no value ("h:p:" makes it e.g. the host)
            if letter == ":" or (letter == "h" and not takes) or f"-{letter}" in seen:
                continue
            seen.add(f"-{letter}")
            self.getopt_params.append(self.getopt_param(letter, f"-{letter}", takes))
        for opt in longopts:
            takes = opt.endswith("=")
            name = opt[:-1] if takes else opt
            if not name or name == "help" or f"--{name}" in seen:
                continue
            seen.add(f"--{name}")
            self.getopt_params.append(self.getopt_param(name, f"--{name}", takes))

    # getopt declares flags only; what each one means is in the loop over the parsed options:
    #   for opt, val in opts:
    #       if opt in ("-c", "--count"): count = int(val)
    # Flags handled by one branch are one parameter, typed by what the branch does with the value, with
    # the default the variable had before the loop; help and version branches are not parameters.
    HELP_FLAGS = frozenset({"-h", "--help", "-?"})
    VERSION_FLAGS = frozenset({"-V", "--version"})

    def getopt_branches(self) -> list[tuple[list[str], ast.If, str, ast.For]]:
        branches = []
        for loop in ast.walk(self.tree):
            if not (isinstance(loop, ast.For) and isinstance(loop.target, ast.Tuple) and len(loop.target.elts) == 2):
                continue
            o, a = loop.target.elts
            if not (isinstance(o, ast.Name) and isinstance(a, ast.Name)):
                continue
            for node in ast.walk(loop):
                if isinstance(node, ast.If):
                    flags = self.flags_tested(node.test, o.id)
                    if flags:
                        branches.append((flags, node, a.id, loop))
        return branches

    @staticmethod
    def flags_tested(test: ast.AST, name: str) -> list[str]:
        """The flags `opt in ("-c", "--count")`, `opt == "-v"` or an `or` of them compares with."""
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
            parts = [Analyzer.flags_tested(v, name) for v in test.values]
            return [f for part in parts for f in part] if all(parts) else []
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.left, ast.Name)
                and test.left.id == name):
            return []
        op, right = test.ops[0], test.comparators[0]
        if isinstance(op, ast.Eq) and isinstance(right, ast.Constant) and isinstance(right.value, str):
            values = [right.value]
        elif isinstance(op, ast.In) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
            values = [e.value for e in right.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(values) != len(right.elts):
                return []
        else:
            return []
        return values if all(v.startswith("-") for v in values) else []

    @staticmethod
    def branch_statements(branch: ast.If) -> list[ast.AST]:
        """Every node of the branch's own body (not its elif/else)."""
        return [n for stmt in branch.body for n in ast.walk(stmt)]

    def informational(self, flags: list[str], nodes: list[ast.AST], value: str) -> bool:
        """A help or version branch: its flags say so and it does not use the option's value."""
        uses_value = any(isinstance(n, ast.Name) and n.id == value for n in nodes)
        return not uses_value and all(f in self.HELP_FLAGS or f in self.VERSION_FLAGS for f in flags)

    def enclosing_scope(self, target: ast.AST) -> ast.AST:
        best: ast.AST = self.tree
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= target.lineno <= (node.end_lineno or 0):
                if best is self.tree or node.lineno >= best.lineno:
                    best = node
        return best

    def value_before(self, variable: str, loop: ast.For) -> tuple[bool, ast.AST | None]:
        """The expression last assigned to `variable` before the loop in its scope: (found, node)."""
        found: tuple[int, ast.AST | None] = (-1, None)
        for node in ast.walk(self.enclosing_scope(loop)):
            if not isinstance(node, ast.Assign) or node.lineno >= loop.lineno:
                continue
            for target in node.targets:
                value: ast.AST | None = None
                if isinstance(target, ast.Name) and target.id == variable:
                    value = node.value
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple) and len(target.elts) == len(node.value.elts):
                    for t, v in zip(target.elts, node.value.elts):
                        if isinstance(t, ast.Name) and t.id == variable:
                            value = v
                if value is not None and node.lineno > found[0]:
                    found = (node.lineno, value)
        return (found[0] >= 0, found[1])

    def refine_getopt(self, params: list[dict]) -> list[dict]:
        by_flag = {f: prm for prm in params for f in prm["flags"]}
        dropped: set[int] = set()
        handled: set[int] = set()
        for flags, branch, value, loop in self.getopt_branches():
            members = []
            for f in flags:
                prm = by_flag.get(f)
                if prm is not None and prm not in members:
                    members.append(prm)
            if not members:
                continue
            nodes = self.branch_statements(branch)
            if self.informational(flags, nodes, value):
                dropped.update(id(m) for m in members)
                continue
            head = members[0]
            for other in members[1:]:
                head["flags"] = head["flags"] + [f for f in other["flags"] if f not in head["flags"]]
                if other["type"] != "boolean":
                    head["type"], head["default"] = other["type"], other["default"]
                dropped.add(id(other))
            head["flags"] = sorted(head["flags"], key=lambda f: (f.startswith("--"), head["flags"].index(f)))
            handled.add(id(head))
            # the variable the branch sets: its name, and the value it had before the loop
            assigned = next((t.id for n in nodes if isinstance(n, ast.Assign) for t in n.targets
                             if isinstance(t, ast.Name)), None)
            appended = next((n for n in nodes if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                             and n.func.attr == "append" and isinstance(n.func.value, ast.Name)
                             and any(isinstance(x, ast.Name) and x.id == value for a in n.args for x in ast.walk(a))), None)
            long_flag = next((f for f in head["flags"] if f.startswith("--")), None)
            variable = assigned or (appended.func.value.id if appended is not None else None)
            head["name"] = long_flag[2:] if long_flag else (variable or head["name"])
            if head["type"] == "boolean":
                continue
            converted = {c.func.id for c in nodes if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
                         and c.func.id in ("int", "float") and any(isinstance(x, ast.Name) and x.id == value
                                                                  for a in c.args for x in ast.walk(a))}
            scalar = "integer" if "int" in converted else "number" if "float" in converted else "string"
            if appended is not None:
                head["type"], head["items_type"], head["action"], head["default"] = "array", scalar, "append", None
                continue
            head["type"] = scalar
            if variable is None:
                continue
            seen, before = self.value_before(variable, loop)
            if not seen or before is None:
                continue
            literal = literal_of(before)
            if literal is NOTLIT:
                self.apply_default(head, NOTLIT, before)
            elif literal is not None and (scalar == "string" and isinstance(literal, str)
                                          or scalar == "integer" and isinstance(literal, int) and not isinstance(literal, bool)
                                          or scalar == "number" and isinstance(literal, (int, float)) and not isinstance(literal, bool)):
                head["default"] = literal
        result = [prm for prm in params if id(prm) not in dropped]
        for prm in result:
            if prm["type"] != "boolean" and id(prm) not in handled:
                since = len(self.warnings)
                self.warn(self.getopt_line, f"getopt option {'/'.join(prm['flags'])} is handled nowhere this analysis "
                                            "follows; it is reported as a string")
                self.review(prm, since)
        return result

    @staticmethod
    def getopt_param(name: str, flag: str, takes_value: bool) -> dict:
        return {
            "name": name, "kind": "option", "flags": [flag],
            "type": "string" if takes_value else "boolean", "items_type": None,
            "default": None if takes_value else False, "required": False,
            "choices": None, "help": None, "metavar": None, "nargs": None,
            "action": None, "group": None, "mutex_group": None,
            "position": None, "subcommand": None,
        }

    # ---------------------------------------------------------------- click
    def click_analyse(self):
        """Return (params, subcommands, description, first_line) or None."""
        funcs = sorted((n for n in ast.walk(self.tree)
                        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))),
                       key=lambda n: (n.lineno, n.col_offset))
        pending = []  # (func, kind, call, parent_name)
        for fn in funcs:
            for dec in fn.decorator_list:
                call = dec if isinstance(dec, ast.Call) else None
                target = dec.func if call else dec
                canon = self.canonical(target)
                if canon in ("click.command", "click.group"):
                    pending.append((fn, canon.split(".")[1], call, None))
                    break
                if (isinstance(target, ast.Attribute) and target.attr in ("command", "group")
                        and isinstance(target.value, ast.Name)):
                    pending.append((fn, target.attr, call, target.value.id))
                    break
        if not pending:
            return None
        commands: dict[str, dict] = {}
        for fn, kind, call, parent in pending:
            commands[fn.name] = {"fn": fn, "kind": kind, "call": call, "parent": parent,
                                 "name": None, "children": []}
        # drop decorators like @app.command() whose receiver is not a click group
        changed = True
        while changed:
            changed = False
            for key, cmd in list(commands.items()):
                parent = cmd["parent"]
                if parent is not None and (parent not in commands or commands[parent]["kind"] != "group"):
                    del commands[key]
                    changed = True
        if not commands:
            return None
        for cmd in commands.values():
            fn, call = cmd["fn"], cmd["call"]
            name = None
            if call is not None:
                if call.args:
                    name = self.lit_str(self.eval(call.args[0], self.module_env))
                for kw in call.keywords:
                    if kw.arg == "name":
                        name = self.lit_str(self.eval(kw.value, self.module_env))
            cmd["name"] = name or fn.name.lower().replace("_", "-")
            help_text = None
            if call is not None:
                for kw in call.keywords:
                    if kw.arg == "help":
                        help_text = self.lit_str(self.eval(kw.value, self.module_env))
            if help_text is None:
                help_text = ast.get_docstring(fn, clean=True)
            cmd["help"] = first_paragraph(help_text) if help_text else None
        # group.add_command(func[, name])
        for node in ast.walk(self.tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add_command" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in commands and commands[node.func.value.id]["kind"] == "group"
                    and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in commands):
                child = commands[node.args[0].id]
                child["parent"] = node.func.value.id
                name_node = node.args[1] if len(node.args) > 1 else next(
                    (kw.value for kw in node.keywords if kw.arg == "name"), None)
                if name_node is not None:
                    new_name = self.lit_str(self.eval(name_node, self.module_env))
                    if new_name:
                        child["name"] = new_name
        roots = []
        for key, cmd in commands.items():
            if cmd["parent"] is None:
                roots.append(cmd)
            else:
                commands[cmd["parent"]]["children"].append(cmd)
        params: list[dict] = []
        subcommands: list[dict] = []

        def walk(cmd, path):
            params.extend(self.click_params(cmd["fn"], path))
            for child in cmd["children"]:
                child_path = f"{path} {child['name']}" if path else child["name"]
                subcommands.append({"name": child_path, "help": child["help"]})
                walk(child, child_path)

        for root in roots:
            walk(root, None)
        description = roots[0]["help"] if roots else None
        first_line = min(c["fn"].lineno for c in commands.values())
        return params, subcommands, description or "", first_line

    def click_params(self, fn, path) -> list[dict]:
        out = []
        n_positional = 0
        for dec in fn.decorator_list:
            if not isinstance(dec, ast.Call):
                continue
            canon = self.canonical(dec.func)
            if canon not in ("click.option", "click.argument"):
                continue
            env = self.module_env
            since = len(self.warnings)
            argvals = [self.eval(a, env) for a in dec.args]
            kwnodes = {kw.arg: kw.value for kw in dec.keywords if kw.arg is not None}
            kwvals = {k: self.eval(v, env) for k, v in kwnodes.items()}
            decls = [self.lit_str(v) for v in argvals]
            if not decls or any(d is None for d in decls):
                self.warn(dec.lineno, f"{canon} with non-literal declarations skipped")
                continue
            flag = lambda key: self.value_literal(kwvals.get(key)) is True  # noqa: E731
            default_node = kwnodes.get("default")
            default_lit = literal_of(default_node)
            nargs_v = self.value_literal(kwvals.get("nargs"))
            nargs = nargs_v if isinstance(nargs_v, int) and not isinstance(nargs_v, bool) else None
            if canon == "click.option":
                flags, explicit, secondary = [], None, False
                for d in decls:
                    if d.isidentifier():
                        explicit = d
                    elif "/" in d and d[:1] in "-+":
                        first, second = d.split("/", 1)
                        flags.extend([x.strip() for x in (first, second) if x.strip()])
                        secondary = True
                    else:
                        flags.append(d)
                if explicit:
                    name = explicit
                else:
                    primaries = [f for f in flags if f.startswith("-") or f[:1] in "+/"]
                    ranked = sorted(primaries, key=lambda f: -(2 if len(f) > 1 and f[1] == f[0] else 1))
                    chosen = ranked[0] if ranked else flags[0]
                    name = chosen.lstrip(chosen[0]).replace("-", "_").lower()
                kind = "option"
            else:
                flags = []
                name = decls[0].replace("-", "_").lower()
                kind = "positional"
            items_type = None
            implicit_default: Any = None
            choices = self.click_choices(kwnodes.get("type"), kwvals.get("type"))
            if kind == "option" and flag("count"):
                jtype, implicit_default = "integer", 0
            elif kind == "option" and (flag("is_flag") or secondary or "flag_value" in kwnodes):
                # flag_value makes it a flag (--upper/--lower sharing one dest): given or not, never a value
                jtype, implicit_default = "boolean", False
            else:
                scalar = self.click_type(kwnodes.get("type"), default_lit, name)
                if flag("multiple") or nargs == -1 or (isinstance(nargs, int) and nargs > 1):
                    jtype, items_type = "array", items_of(scalar)
                else:
                    jtype = scalar
            if kind == "option":
                # prompt=…: click would ask on the terminal, which a run does not have; the value is needed
                required = flag("required") or ("prompt" in kwnodes and self.value_literal(kwvals.get("prompt")) not in (None, False, ""))
            elif "required" in kwnodes:
                required = flag("required")
            else:
                required = default_node is None and (nargs is None or nargs > 0)
            param = {
                "name": name,
                "kind": kind,
                "flags": flags,
                "type": jtype,
                "items_type": items_type,
                "default": implicit_default,
                "required": required,
                "choices": choices,
                "help": self.lit_str(kwvals.get("help")),
                "metavar": self.lit_metavar(kwvals.get("metavar")),
                "nargs": nargs,
                # How the option is repeated matters for argv: count → -vvv, multiple → --x a --x b.
                "action": ("count" if flag("count") else "append" if flag("multiple") else None) if kind == "option" else None,
                "group": None,
                "mutex_group": None,
                "position": None,
                "subcommand": path,
            }
            if flag("hide_input"):
                param["secret"] = True  # typed without echo: a password
            if default_node is not None and "flag_value" not in kwnodes:
                self.apply_default(param, default_lit, default_node)
            if kind == "positional":
                param["position"] = n_positional
                n_positional += 1
            self.review(param, since)
            out.append(param)
        return out

    def click_choices(self, tnode, tval):
        if isinstance(tnode, ast.Call) and self.canonical(tnode.func) == "click.Choice" and tnode.args:
            return self.lit_list(self.eval(tnode.args[0], self.module_env))
        return None

    def click_type(self, tnode, default_lit, pname) -> str:
        if tnode is None:
            value = default_lit
            if isinstance(value, list):
                value = value[0] if value else None
            if value is NOTLIT or value is None:
                return "string"
            return json_scalar_of_python(value)
        target = tnode.func if isinstance(tnode, ast.Call) else tnode
        canon = self.canonical(target)
        if canon in ("int", "click.INT", "click.IntRange"):
            return "integer"
        if canon in ("float", "click.FLOAT", "click.FloatRange"):
            return "number"
        if canon in ("bool", "click.BOOL"):
            return "boolean"
        if canon in ("str", "click.STRING", "click.Path", "click.File", "click.Choice",
                     "click.UUID", "click.DateTime", "click.UNPROCESSED") or canon in PATH_TYPES:
            return "string"
        self.warn(tnode.lineno, f"parameter '{pname}' uses custom type '{ast.unparse(tnode)}'; reported as string")
        return "string"

    # ------------------------------------------------------------- sys.argv
    def sys_argv_line(self) -> int | None:
        lines = [n.lineno for n in ast.walk(self.tree)
                 if isinstance(n, (ast.Attribute, ast.Name))
                 and isinstance(getattr(n, "ctx", None), ast.Load)
                 and self.canonical(n) == "sys.argv"]
        return min(lines) if lines else None

    # --------------------------------------------------------------- result
    def result(self) -> dict:
        self.run()
        found: dict[str, tuple] = {}  # framework -> (params, subcommands, description, line)

        roots = [p for p in self.argparsers if not p.is_parent and not p.is_sub]
        if roots:
            params: list[dict] = []
            subs: list[dict] = []

            def walk(p: ArgParser):
                params.extend(p.params)
                for child in p.children:
                    subs.append({"name": child.subcommand, "help": child.sub_help})
                    walk(child)

            for root in roots:
                walk(root)
            desc = next((r.description for r in roots if r.description), None)
            found["argparse"] = (params, subs, first_paragraph(desc), roots[0].line)
        click = self.click_analyse()
        if click is not None:
            params, subs, desc, line = click
            found["click"] = (params, subs, desc, line)
        if self.optparsers:
            params = [prm for p in self.optparsers for prm in p.params]
            desc = next((p.description for p in self.optparsers if p.description), None)
            found["optparse"] = (params, [], first_paragraph(desc), self.optparsers[0].line)
        if self.getopt_line is not None:
            found["getopt"] = (self.refine_getopt(self.getopt_params), [], "", self.getopt_line)

        framework = "none"
        params, subs, fw_desc = [], [], ""
        for name in ("argparse", "click", "optparse", "getopt"):
            if name in found:
                framework = name
                params, subs, fw_desc, _ = found[name]
                break
        for name, (_, _, _, line) in found.items():
            if name != framework:
                self.warn(line, f"also uses {name}; only the {framework} parameters are reported")
        # add_argument on a parser kept where this analysis cannot follow it (self.parser in a class, a
        # parser passed around through containers): say so, and with nothing understood, take
        # free-form arguments rather than pretend the script has none.
        lost = sorted((n.lineno, n.col_offset) for n in ast.walk(self.tree)
                      if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "add_argument"
                      and (n.lineno, n.col_offset) not in self.followed_add_argument)
        if lost and framework in ("none", "argparse"):
            self.warn(lost[0][0], f"{len(lost)} add_argument call(s) on a parser this analysis cannot follow "
                                  "(e.g. one kept in self.parser); those arguments are not described")
            if not params:
                framework = "unknown"
        if framework == "none":
            line = self.sys_argv_line()
            if line is not None:
                framework = "sys.argv"
                self.warn(line, "script reads sys.argv directly; its parameters cannot be described")

        description = first_paragraph(self.module_doc) or fw_desc or ""
        return {
            "description": description,
            "framework": framework,
            "parameters": params,
            "subcommands": subs,
            **({"required_mutex_groups": sorted(self.required_mutex)} if self.required_mutex else {}),
        }


# --------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------

def dedupe_warnings(warnings: list[dict]) -> list[dict]:
    seen, out = set(), []
    for w in sorted(warnings, key=lambda w: w["line"]):
        key = (w["line"], w["message"])
        if key not in seen:
            seen.add(key)
            out.append(w)
    return out


def is_script(data: bytes, tree: "ast.Module | None") -> bool:
    """A script, not a library module: a shebang, a __main__ guard, or statements that run at import."""
    if data.startswith(b"#!") or tree is None:
        return True
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            names = [n for n in [node.test.left, *node.test.comparators]]
            if any(isinstance(n, ast.Name) and n.id == "__name__" for n in names):
                return True
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            return True
    return False


def introspect_file(path: str) -> dict:
    result = {"file": path, "description": "", "framework": "none",
              "parameters": [], "subcommands": [], "warnings": [], "is_script": True}
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        result["warnings"].append({"line": 0, "message": f"cannot read file: {exc.strerror or exc}"})
        return result
    try:
        tree = ast.parse(data, filename=path)
    except SyntaxError as exc:
        result["warnings"].append({"line": int(exc.lineno or 0), "message": f"syntax error: {exc.msg}"})
        return result
    except (ValueError, UnicodeDecodeError) as exc:
        result["warnings"].append({"line": 0, "message": f"cannot parse file: {exc}"})
        return result
    except (RecursionError, MemoryError) as exc:
        # a pathological file (e.g. a generated 20,000-term expression) is one warning, not a failed ingest
        result["warnings"].append({"line": 0, "message": f"too deeply nested to analyse ({type(exc).__name__}); takes free-form arguments"})
        return result
    result["is_script"] = is_script(data, tree)
    source = data.decode("utf-8", errors="replace")
    analyzer = Analyzer(tree, source)
    try:
        found = analyzer.result()
    except (Exception, RecursionError) as exc:  # noqa: BLE001 - never fail the whole run
        analyzer.warn(0, f"internal analyser error: {type(exc).__name__}: {exc}")
        found = {"description": first_paragraph(analyzer.module_doc), "framework": "none",
                 "parameters": [], "subcommands": []}
    result.update(found)
    result["warnings"] = dedupe_warnings(analyzer.warnings)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="introspect.py",
        description="Statically describe the command-line parameters of Python scripts "
                    "(argparse, click, optparse, getopt, sys.argv) as JSON Lines, one object "
                    "per input file, without executing or importing them.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="Python script to analyse")
    parser.add_argument("--files-from", metavar="PATH", help="read NUL-separated file names from PATH ('-' for stdin); "
                                                              "a tree of tens of thousands of files does not fit on a command line")
    args = parser.parse_args(argv)
    files = list(args.files)
    if args.files_from:
        raw = sys.stdin.buffer.read() if args.files_from == "-" else open(args.files_from, "rb").read()
        files += [p for p in raw.decode("utf-8", errors="surrogateescape").split("\0") if p]
    if not files:
        parser.error("give at least one FILE, or --files-from")
    try:
        sys.stdout.reconfigure(encoding="utf-8")
    except (AttributeError, ValueError):
        pass
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    for path in files:
        print(json.dumps(introspect_file(path), ensure_ascii=False), flush=True)
    if os.environ.get("STACKWIRE_INTROSPECT_STATS") == "1":
        import resource
        print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
