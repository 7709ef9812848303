#!/usr/bin/env python3
"""Runs a StackStorm python-script action (a class with run(**kwargs)) the way st2's runner would.
Long file: one file on purpose — the worker copies it, alone, to a folder the run user can read, and it
holds the whole st2 surface (the action and sensor bases, the services, st2common, the SSH runner).

Usage: st2_python_shim.py <entry_point.py>
  stdin: one JSON object {"parameters": {...}, "config": {...}, "pack": "<pack>"}
       st2_python_shim.py --remote      (remote-shell-cmd / remote-shell-script over OpenSSH; see run_remote)
       st2_python_shim.py --sensor <entry_point.py>   (a StackStorm sensor class; see run_sensor)
  fd STACKWIRE_DATASTORE_FD (when set): the worker's datastore, one JSON request and answer per line

It provides the st2common surface actions import, so an action module runs unchanged:
  st2common.runners.base_action.Action   config (PackConfigDict), logger, action_service
  action_service                         get_value/set_value/delete_value/list_values, backed by the
                                         worker's Postgres datastore (scoped to the pack, TTL, encrypt)
  st2common.exceptions                   StackStormBaseException and the usual subclasses
  st2common.util.isotime / jsonify / shell, st2common.log, st2common.constants.keyvalue
It instantiates the single Action subclass the module defines, calls run(**parameters) and prints the
result as JSON on the last line. As in st2: a (status, result) tuple with status False fails the run
(exit 1); a status that is not a bool is an error (exit 220); an exception fails it (exit 1).
"""
import base64
import datetime
import importlib.util
import json
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import types

SYSTEM_SCOPE = "system"
USER_SCOPE = "user"
INVALID_STATUS_EXIT_CODE = 220


class StackStormBaseException(Exception):
    pass


class StackStormDBObjectNotFoundError(StackStormBaseException):
    pass


class ActionRunnerException(StackStormBaseException):
    pass


class ParamException(StackStormBaseException):
    pass


class PackConfigDict(dict):
    """A pack's config: a missing key says where to set it (st2 names its config file)."""

    def __init__(self, pack_name, values):
        super().__init__(values)
        self._pack_name = pack_name

    def __getitem__(self, key):
        try:
            return super().__getitem__(key)
        except KeyError:
            raise ValueError(
                f'Config for pack "{self._pack_name}" is missing key "{key}". '
                f"Set it with: stackwire pack config {self._pack_name} {key}=<value>"
            ) from None


class KeyValuePair:
    def __init__(self, name, value, secret=False, ttl=None):
        self.id = self.name = name
        self.value = value
        self.secret = secret
        self.ttl = ttl
        self.scope = SYSTEM_SCOPE

    def __repr__(self):
        return f"<KeyValuePair name={self.name!r}>"


class DatastoreChannel:
    """Requests to the worker over an inherited socket: one JSON line each way."""

    def __init__(self, fd):
        self._sock = socket.socket(fileno=fd)
        self._file = self._sock.makefile("rwb")

    def call(self, request):
        self._file.write((json.dumps(request) + "\n").encode())
        self._file.flush()
        line = self._file.readline()
        if not line:
            raise StackStormBaseException("the worker closed the datastore channel")
        answer = json.loads(line)
        if "error" in answer:
            raise StackStormBaseException(answer["error"])
        return answer.get("value")


class ActionService:
    """st2's ActionService as actions use it; keys live in the pack's own datastore."""

    def __init__(self, pack, class_name, channel):
        self._prefix = f"{pack}.{class_name}:"
        self._channel = channel

    def _call(self, request):
        if self._channel is None:
            raise StackStormBaseException("no datastore: this action runs outside a Stackwire worker")
        return self._channel.call(request)

    def _name(self, name, local):
        return f"{self._prefix}{name}" if local else name

    @staticmethod
    def _check_scope(scope):
        if scope != SYSTEM_SCOPE:
            raise ValueError(f"Scope {scope} is unsupported.")

    def get_user_info(self):
        return {"username": os.environ.get("STACKWIRE_ACTOR", "stackwire")}

    def list_values(self, local=True, prefix=None, limit=None, offset=0):
        full = (self._prefix if local else "") + (prefix or "")
        rows = self._call({"op": "list", "prefix": full, "limit": limit, "offset": offset or 0})
        return [KeyValuePair(r["name"], r["value"], r.get("secret", False), r.get("ttl")) for r in rows]

    def get_value(self, name, local=True, scope=SYSTEM_SCOPE, decrypt=False):
        self._check_scope(scope)
        try:
            return self._call({"op": "get", "name": self._name(name, local), "decrypt": bool(decrypt)})
        except StackStormBaseException as err:
            logging.getLogger("st2.datastore").error("get_value(%s) failed: %s", name, err)
            return None

    def set_value(self, name, value, ttl=None, local=True, scope=SYSTEM_SCOPE, encrypt=False):
        self._check_scope(scope)
        if ttl is not None and (not isinstance(ttl, int) or ttl < 1):
            raise ValueError("ttl must be a whole number of seconds, at least 1")
        self._call({"op": "set", "name": self._name(name, local), "value": str(value), "ttl": ttl, "encrypt": bool(encrypt)})
        return True

    def delete_value(self, name, local=True, scope=SYSTEM_SCOPE):
        self._check_scope(scope)
        try:
            return bool(self._call({"op": "delete", "name": self._name(name, local)}))
        except StackStormBaseException:
            return False


class Action:  # the st2 base class, as far as actions use it
    description = None

    def __init__(self, config=None, action_service=None):
        self.config = config if isinstance(config, PackConfigDict) else PackConfigDict(os.environ.get("STACKWIRE_PACK", ""), config or {})
        self.action_service = action_service
        self.logger = get_logger_for_python_runner_action(type(self).__name__)

    def run(self, **kwargs):
        raise NotImplementedError()


class SensorService(ActionService):
    """st2's SensorService: dispatch() prints the trigger instance as a JSON line (a script sensor's event)."""

    def __init__(self, pack, class_name, channel):
        super().__init__(pack, class_name, channel)
        self._class_name = class_name

    def dispatch(self, trigger, payload=None, trace_tag=None):
        event = {"trigger": trigger, "payload": payload if payload is not None else {}}
        if trace_tag is not None:
            event["id"] = str(trace_tag)
        print(json.dumps(event, default=str), flush=True)

    def dispatch_with_context(self, trigger, payload=None, trace_context=None):
        self.dispatch(trigger, payload, getattr(trace_context, "trace_tag", None))

    def get_logger(self, name):
        return get_logger_for_python_runner_action(self._class_name)


class Sensor:  # st2reactor.sensor.base.Sensor, as sensors use it
    def __init__(self, sensor_service, config=None):
        self.sensor_service = sensor_service
        self.config = config if config is not None else {}
        self._sensor_service = sensor_service
        self._config = self.config

    def setup(self):
        pass

    def run(self):
        raise NotImplementedError()

    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass


class PollingSensor(Sensor):
    def __init__(self, sensor_service, config=None, poll_interval=5):
        super().__init__(sensor_service, config)
        self._poll_interval = poll_interval

    def poll(self):
        raise NotImplementedError()

    def get_poll_interval(self):
        return self._poll_interval

    def set_poll_interval(self, poll_interval):
        self._poll_interval = poll_interval


def run_sensor(entry, request, channel):
    """
    Runs a StackStorm sensor class as a script sensor: setup(), then run() (a Sensor) or poll() every
    poll_interval seconds (a PollingSensor), until the process is stopped (SIGTERM → cleanup()). Each
    dispatch() prints {"trigger", "payload", "id"?} as one JSON line: the sensor's events.
    """
    module = _load(entry)
    spec = request.get("sensor") or {}
    name = spec.get("class_name")
    cls = getattr(module, name, None) if name else None
    if not (isinstance(cls, type) and issubclass(cls, Sensor)):
        print(f"{entry}: no Sensor class named {name!r}", file=sys.stderr)
        return 2
    pack = request.get("pack", "")
    service = SensorService(pack, cls.__name__, channel)
    config = PackConfigDict(pack, request.get("config", {}))
    interval = float(spec.get("poll_interval") or 60)
    sensor = cls(sensor_service=service, config=config, poll_interval=interval) if issubclass(cls, PollingSensor) else cls(sensor_service=service, config=config)

    def stop(_sig, _frame):
        try:
            sensor.cleanup()
        finally:
            sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    sensor.setup()
    if isinstance(sensor, PollingSensor):
        while True:
            sensor.poll()
            sys.stdout.flush()
            time.sleep(sensor.get_poll_interval())
    sensor.run()
    return 0


def get_logger_for_python_runner_action(action_name, log_level="debug"):
    logger = logging.getLogger(f"actions.python.{action_name}")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)-12s: %(levelname)-8s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(getattr(logging, str(log_level).upper(), logging.DEBUG))
    return logger


def _isotime_format(dt, usec=True, offset=True):
    if isinstance(dt, str):
        dt = _isotime_parse(dt)
    fmt = "%Y-%m-%dT%H:%M:%S" + (".%f" if usec else "")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    text = dt.strftime(fmt)
    if not offset:
        return text
    off = dt.utcoffset()
    return text + ("Z" if not off else dt.strftime("%z")[:3] + ":" + dt.strftime("%z")[3:])


def _isotime_parse(value, preserve_original_tz=False, validate_value=True):
    dt = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt if preserve_original_tz else dt.astimezone(datetime.timezone.utc)


def _isotime_validate(value, raise_exception=True):
    try:
        return _isotime_parse(value)
    except ValueError:
        if raise_exception:
            raise ValueError(f"Datetime value does not match expected format: {value}") from None
        return None


def _try_loads(s):
    try:
        return json.loads(s) if isinstance(s, str) else s
    except ValueError:
        return s


def _run_command(cmd, stdin=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE, shell=False, cwd=None, env=None, close_fds=None):
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=stderr, shell=shell, cwd=cwd, env=env, close_fds=True if close_fds is None else close_fds)
    out, err = proc.communicate()
    decode = lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes) else b  # noqa: E731
    return proc.returncode, decode(out), decode(err)


def _module(name, **attrs):
    mod = sys.modules.get(name) or types.ModuleType(name)
    for k, v in attrs.items():
        setattr(mod, k, v)
    sys.modules[name] = mod
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules.get(parent) or _module(parent), child, mod)
    return mod


def install_fake_st2():
    excs = dict(
        StackStormBaseException=StackStormBaseException,
        StackStormDBObjectNotFoundError=StackStormDBObjectNotFoundError,
        ActionRunnerException=ActionRunnerException,
        ParamException=ParamException,
    )
    _module("st2common")
    _module("st2common.runners")
    _module("st2common.runners.base_action", Action=Action)
    _module("st2common.runners.utils", get_logger_for_python_runner_action=get_logger_for_python_runner_action)
    _module("st2common.exceptions", **excs)
    _module("st2common.exceptions.db", StackStormDBObjectNotFoundError=StackStormDBObjectNotFoundError)
    _module("st2common.exceptions.actionrunner", ActionRunnerException=ActionRunnerException)
    _module("st2common.exceptions.param", ParamException=ParamException)
    _module("st2common.log", getLogger=logging.getLogger, get_logger=logging.getLogger)
    _module("st2common.constants")
    _module("st2common.constants.keyvalue", SYSTEM_SCOPE=SYSTEM_SCOPE, USER_SCOPE=USER_SCOPE, FULL_SYSTEM_SCOPE="st2kv.system", FULL_USER_SCOPE="st2kv.user", DATASTORE_KEY_SEPARATOR=":")
    _module("st2common.util")
    _module("st2common.util.isotime", format=_isotime_format, parse=_isotime_parse, validate=_isotime_validate)
    _module(
        "st2common.util.jsonify",
        json_encode=lambda obj, indent=None, sort_keys=False: json.dumps(obj, indent=indent, sort_keys=sort_keys, default=str),
        json_decode=json.loads,
        json_loads=lambda obj, keys=None: json.loads(obj) if isinstance(obj, str) else obj,
        try_loads=_try_loads,
    )
    _module("st2common.util.shell", run_command=_run_command, quote_unix=shlex.quote)
    # The old import path of the base class (st2 before 2.x), still found in packs.
    _module("st2actions")
    _module("st2actions.runners")
    _module("st2actions.runners.pythonrunner", Action=Action)
    _module("st2reactor")
    _module("st2reactor.sensor")
    _module("st2reactor.sensor.base", Sensor=Sensor, PollingSensor=PollingSensor)


REMOTE_HOST = re.compile(r"^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+))(?::(\d{1,5}))?$")


def _q(value):
    """POSIX single quotes: the remote shell reads the value as one literal word."""
    return "'" + str(value).replace("'", "'\\''") + "'"


def _remote_script(req):
    """What the remote `sh -s` reads: the environment, the working folder, then the command or the script."""
    lines = []
    for k, v in sorted((req.get("env") or {}).items()):
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", k):
            lines.append(f"export {k}={_q(v)}")
    for k, v in sorted((req.get("values") or {}).items()):
        lines.append(f"ST2_PARAM_{k}={_q(v)}")
    if req.get("cwd"):
        lines.append(f"cd {_q(req['cwd'])} || exit 1")
    if req["mode"] == "cmd":
        lines.append(req["cmd"])
    else:
        with open(req["script"], "rb") as f:
            content = base64.b64encode(f.read()).decode()
        lines += [
            'f=$(mktemp) || exit 1',
            f"printf '%s' {_q(content)} | base64 -d > \"$f\" && chmod 700 \"$f\" || exit 1",
            '"$f" ' + " ".join(_q(a) for a in req.get("args") or []) + "; rc=$?",
            'rm -f "$f"',
            "exit $rc",
        ]
    return "\n".join(lines) + "\n"


def run_remote(req):
    """
    Runs a command or a script on each host with OpenSSH's client: strict host key checking against the
    known hosts given (never the user's own files), key authentication only, no ssh config, the host
    after "--". The command text travels on stdin to the remote `sh -s`, never on a command line. Prints
    each host's output prefixed with its name, then st2's result: {host: {stdout, stderr, return_code,
    succeeded, failed}} as the last line. Exit 0 when every host succeeded.
    """
    home = os.getcwd()
    ssh_dir = os.path.join(home, ".stackwire-ssh")
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    key = os.path.join(ssh_dir, "id")
    with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(req["private_key"].strip() + "\n")
    known = os.path.join(ssh_dir, "known_hosts")
    with open(os.open(known, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(req["known_hosts"].strip() + "\n")
    script = _remote_script(req)
    results = {}
    ok = True
    for entry in [h.strip() for h in str(req["hosts"]).split(",") if h.strip()]:
        m = REMOTE_HOST.match(entry)
        if not m or entry.startswith("-"):
            print(f"[{entry}] not a host name, address or [address]:port", file=sys.stderr)
            results[entry] = {"stdout": "", "stderr": "not a host", "return_code": 255, "succeeded": False, "failed": True}
            ok = False
            continue
        host = m.group(1) or m.group(2)
        port = m.group(3) or str(req.get("port") or 22)
        argv = ["ssh", "-F", "/dev/null", "-T", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={known}", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
                "-o", "PasswordAuthentication=no", "-o", "ConnectTimeout=15", "-i", key, "-p", port,
                "-l", req["username"], "--", host, "sh -s"]
        proc = subprocess.run(argv, input=script.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = proc.stdout.decode("utf-8", "replace")
        err = proc.stderr.decode("utf-8", "replace")
        for line in out.splitlines():
            print(f"[{entry}] {line}")
        for line in err.splitlines():
            print(f"[{entry}] {line}", file=sys.stderr)
        if proc.returncode == 255 and "Host key verification failed" in err:
            print(f"[{entry}] the host's key is not in the known hosts given (the pack's ssh_known_hosts): check it, then add its line (ssh-keyscan -p {port} {host})", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        succeeded = proc.returncode == 0
        ok = ok and succeeded
        results[entry] = {"stdout": out.rstrip("\n"), "stderr": err.rstrip("\n"), "return_code": proc.returncode, "succeeded": succeeded, "failed": not succeeded}
    print(json.dumps(results))
    return 0 if ok else 1


def _load(entry):
    install_fake_st2()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    sys.path.insert(0, os.path.dirname(entry))
    spec = importlib.util.spec_from_file_location("st2_action", entry)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    if sys.argv[1:] == ["--remote"]:
        raw = sys.stdin.read()
        return run_remote(json.loads(raw))
    sensor_mode = len(sys.argv) == 3 and sys.argv[1] == "--sensor"
    if len(sys.argv) != 2 and not sensor_mode:
        print("usage: st2_python_shim.py [--sensor] <entry_point.py> < request.json", file=sys.stderr)
        return 2
    entry = os.path.abspath(sys.argv[-1])
    raw = sys.stdin.read()
    request = json.loads(raw) if raw.strip() else {}
    params = request.get("parameters", {})
    pack = request.get("pack", "")
    fd = os.environ.get("STACKWIRE_DATASTORE_FD")
    channel = DatastoreChannel(int(fd)) if fd else None
    if sensor_mode:
        return run_sensor(entry, request, channel)
    module = _load(entry)
    classes = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Action) and v is not Action and v.__module__ == module.__name__]
    if len(classes) != 1:
        print(f"{entry}: expected one Action subclass, found {len(classes)}", file=sys.stderr)
        return 2
    cls = classes[0]
    action = cls(config=PackConfigDict(pack, request.get("config", {})), action_service=ActionService(pack, cls.__name__, channel))
    result = action.run(**params)
    ok = True
    if isinstance(result, tuple) and len(result) == 2:
        status, result = result
        if status is not None and not isinstance(status, bool):
            print(f"{cls.__name__}.run returned a status {status!r} that is not a bool; return (True|False, result) or the result alone (use a list for a tuple-like result)", file=sys.stderr)
            return INVALID_STATUS_EXIT_CODE
        ok = status is not False
    print(json.dumps(result, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
