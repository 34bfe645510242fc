# skillgate G3 WASI prelude: runs before the skill's code in the same interpreter.
#
# 1. A PEP 578 audit hook records intent with its arguments (URLs, request bodies, commands,
#    code compiled at run time) as JSON lines on a file descriptor the host reads directly.
#    Everything it needs is bound as a default argument, so the script cannot swap it out by
#    rebinding globals.
# 2. Stand-ins for what WASI lacks (requests, os.system, subprocess) raise an audit event with
#    the arguments and then fail the way a machine without network or processes would: the
#    script reaches its network call with its data, and the host sees it.
# 3. The script runs as __main__ with its own sys.argv.
#
# The host substitutes __SKILLGATE_JOB__ with a JSON object: {"kind": "file"|"code", "path",
# "code", "argv"}.
import sys


def _skillgate_install(job_json):
    import base64
    import json
    import os

    # The log opens first: a script that does not even compile still ran, and says so.
    fd = os.open("/.skillgate/audit", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    # The skill's own code is compiled before the hook exists: its compile is not an event.
    job = json.loads(job_json)
    if job["kind"] == "file":
        path = job["path"]
        with open(path, "rb") as handle:
            source = handle.read()
        code = compile(source, path, "exec")
    else:
        path = "<string>"
        code = compile(job["code"], "<skill-code-block>", "exec")

    stdlib = (sys.prefix.rstrip("/") + "/lib", "/usr/local/lib/python3", "/usr/lib/python3")
    watched = frozenset(
        """open os.listdir os.scandir glob.glob os.remove os.rename os.rmdir os.mkdir os.chmod
        os.chown os.link os.symlink os.truncate shutil.copyfile shutil.copytree shutil.rmtree
        shutil.move shutil.make_archive shutil.unpack_archive socket.__new__ socket.connect
        socket.bind socket.sendto socket.sendmsg socket.getaddrinfo socket.gethostbyname
        socket.gethostbyaddr socket.getnameinfo urllib.Request http.client.connect
        http.client.send smtplib.connect smtplib.send ftplib.connect ftplib.sendcmd imaplib.open
        imaplib.send poplib.connect poplib.putline telnetlib.open webbrowser.open
        subprocess.Popen os.system os.exec os.posix_spawn os.spawn os.fork os.forkpty pty.spawn
        os.kill os.putenv os.unsetenv compile exec import marshal.loads code.__new__
        function.__new__ pickle.find_class ctypes.dlopen ctypes.dlsym sys.addaudithook
        sys._getframe sys.settrace sys.setprofile object.__setattr__ gc.get_referrers
        gc.get_objects builtins.input sqlite3.connect requests.request""".split()
    )
    cap = 65536

    def plain(value, depth=0, _b64=base64.b64encode, _repr=repr, _isinstance=isinstance):
        if value is None or _isinstance(value, (bool, int, float)):
            return value
        if _isinstance(value, str):
            return value[:cap]
        if _isinstance(value, (bytes, bytearray, memoryview)):
            return {"b64": _b64(bytes(value[:cap])).decode("ascii")}
        if depth < 3 and _isinstance(value, (list, tuple)):
            return [plain(v, depth + 1) for v in list(value)[:64]]
        if depth < 3 and _isinstance(value, dict):
            return {str(k)[:256]: plain(v, depth + 1) for k, v in list(value.items())[:64]}
        if type(value).__name__ == "code":
            return {"code": value.co_filename}
        try:
            return _repr(value)[:4096]
        except Exception:
            return "<unrepresentable>"

    seen_imports = set()
    # The prelude's own exec of the skill's code is the first exec event.
    first_exec = [True]

    def hook(event, args, _write=os.write, _fd=fd, _dumps=json.dumps, _watched=watched,
             _plain=plain, _stdlib=stdlib, _seen=seen_imports, _str=str, _first=first_exec,
             _busy=[False], _getframe=sys._getframe):
        if _busy[0] or event not in _watched:
            return
        if event == "open":
            path = args[0]
            if not _isinstance_str(path) or path.startswith(_stdlib) or path == "/.skillgate/audit":
                return
        elif event == "import":
            name = _str(args[0]).split(".")[0]
            if name in _seen:
                return
            _seen.add(name)
            args = (args[0],)
        elif event in ("compile", "exec", "marshal.loads", "code.__new__"):
            # The stdlib builds code at run time too (namedtuple, dataclasses, the import
            # system); what counts is code built by the skill's own frames.
            if event == "exec" and _first[0]:
                _first[0] = False
                return
            _busy[0] = True
            try:
                caller = _getframe(1).f_code.co_filename
            except Exception:
                caller = ""
            finally:
                _busy[0] = False
            if caller.startswith("<frozen") or "/Lib/" in caller or caller.startswith(_stdlib):
                return
        if event in ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn"):
            # A child inherits its environment: only the variable names are intent, the
            # values flowing to the child are not a send.
            args = tuple(sorted(a) if isinstance(a, dict) else a for a in args)
        try:
            line = _dumps({"e": event, "a": _plain(args)}) + "\n"
            _write(_fd, line.encode("utf-8", "replace"))
        except Exception:
            pass

    def _isinstance_str(value, _isinstance=isinstance):
        return _isinstance(value, str)

    sys.addaudithook(hook)

    # Stand-ins for what WASI cannot do. Each raises the audit event an agent's machine would
    # have seen, then fails like a machine without network or processes.
    audit = sys.audit

    def system(command, _audit=audit):
        _audit("os.system", command)
        return 127

    os.system = system

    # subprocess refuses in Popen.__init__ before any audit event; wrap it when the skill
    # imports subprocess (a loader wrapper, so nothing is imported that the skill does not).
    def patch_subprocess(module, _audit=audit):
        original = module.Popen.__init__

        def __init__(self, args, *rest, **kwargs):
            _audit("subprocess.Popen", kwargs.get("executable"), args, kwargs.get("cwd"),
                   kwargs.get("env"))
            return original(self, args, *rest, **kwargs)

        module.Popen.__init__ = __init__

    class PatchingLoader:
        def __init__(self, inner, patch):
            self.inner = inner
            self.patch = patch

        def create_module(self, spec):
            return self.inner.create_module(spec)

        def exec_module(self, module):
            self.inner.exec_module(module)
            self.patch(module)

    class PatchOnImport:
        def find_spec(self, name, path=None, target=None):
            if name != "subprocess":
                return None
            sys.meta_path.remove(self)
            import importlib.util
            spec = importlib.util.find_spec(name)
            if spec is not None and spec.loader is not None:
                spec.loader = PatchingLoader(spec.loader, patch_subprocess)
            return spec

    sys.meta_path.insert(0, PatchOnImport())

    import types

    class ConnectionError(OSError):
        pass

    class Response:
        status_code = 0
        ok = False
        text = ""
        content = b""

        def json(self):
            return {}

        def raise_for_status(self):
            raise ConnectionError("no network")

    def request(method, url, _audit=audit, **kwargs):
        _audit("requests.request", method.upper(), url, kwargs.get("data"), kwargs.get("json"),
               kwargs.get("params"), kwargs.get("headers"), kwargs.get("files"))
        raise ConnectionError("Max retries exceeded with url: %s (no network)" % url)

    class Session:
        def __init__(self):
            self.headers = {}

        def request(self, method, url, **kwargs):
            headers = dict(self.headers)
            headers.update(kwargs.pop("headers", None) or {})
            return request(method, url, headers=headers, **kwargs)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def close(self):
            pass

    requests = types.ModuleType("requests")
    requests.__skillgate_stand_in__ = True
    requests.request = request
    requests.Session = Session
    requests.session = Session
    requests.Response = Response
    requests.ConnectionError = ConnectionError
    requests.RequestException = OSError
    requests.exceptions = types.SimpleNamespace(
        ConnectionError=ConnectionError, RequestException=OSError, Timeout=OSError,
        HTTPError=OSError)
    for verb in ("get", "post", "put", "patch", "delete", "head", "options"):
        def call(url, _verb=verb, **kwargs):
            return request(_verb, url, **kwargs)
        setattr(requests, verb, call)
        setattr(Session, verb, lambda self, url, _verb=verb, **kw: self.request(_verb, url, **kw))
    sys.modules.setdefault("requests", requests)

    sys.argv = list(job["argv"])
    sys.path.insert(0, os.path.dirname(path) if job["kind"] == "file" else "/skill")
    os.chdir("/skill")
    return code, {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}


_skillgate_code, _skillgate_globals = _skillgate_install(__SKILLGATE_JOB__)
del _skillgate_install
exec(_skillgate_code, _skillgate_globals)
