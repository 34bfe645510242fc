# skillgate G3 stand-ins, loaded as sitecustomize by the native runner's Python.
#
# A skill's script that imports a package this machine lacks (pdfplumber, pandas, openpyxl …)
# stops at its first line, and G3 would see none of its own code. This finder comes last on
# sys.meta_path, so every module that exists loads as usual; only a missing one is replaced by
# a stand-in whose attributes are callables returning stand-ins, so the script's own code runs
# on to its calls. Each stand-in is announced on stderr, so coverage can say what was faked.
import sys


def _skillgate_stand_ins():
    import importlib.abc
    import importlib.machinery
    import types

    class Thing:
        def __init__(self, name):
            object.__setattr__(self, "_name", name)

        def __call__(self, *args, **kwargs):
            return Thing(self._name + "()")

        def __getattr__(self, name):
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name)
            return Thing(self._name + "." + name)

        def __setattr__(self, name, value):
            pass

        def __getitem__(self, key):
            return Thing(self._name + "[]")

        def __setitem__(self, key, value):
            pass

        def __iter__(self):
            return iter(())

        def __len__(self):
            return 0

        def __bool__(self):
            return False

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def __str__(self):
            return ""

        def __int__(self):
            return 0

        def __float__(self):
            return 0.0

        def __mro_entries__(self, bases):
            return ()

    class StandIn(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name)
            return Thing(self.__name__ + "." + name)

    class Loader(importlib.abc.Loader):
        def create_module(self, spec):
            module = StandIn(spec.name)
            module.__path__ = []
            return module

        def exec_module(self, module):
            pass

    announced = set()

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top.startswith("_") or top in (
                "sitecustomize", "usercustomize"):
                return None
            # Only the skill's own imports: a library probing for an optional dependency
            # (try: import brotli) must see it missing, as it would anywhere.
            frame = sys._getframe(1)
            while frame is not None and (
                frame.f_code.co_filename.startswith("<frozen")
                or "importlib" in frame.f_code.co_filename
            ):
                frame = frame.f_back
            caller = frame.f_code.co_filename if frame is not None else ""
            if (caller.startswith(("/usr/lib/", "/usr/local/lib/", "/usr/share/"))
                    or "-packages/" in caller):
                return None
            if top not in announced:
                announced.add(top)
                sys.stderr.write("[skillgate: stand-in for missing module %s]\n" % top)
            return importlib.machinery.ModuleSpec(name, Loader(), is_package=True)

    sys.meta_path.append(Finder())


_skillgate_stand_ins()
del _skillgate_stand_ins
