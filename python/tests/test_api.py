"""The public surface: every exported name exists and says what it is."""

from __future__ import annotations

import builtins
import ctypes
import inspect

import wsconnector


def test_every_public_name_and_member_has_a_docstring() -> None:
    undocumented = []
    for name in wsconnector.__all__:
        if name == "__version__":
            continue
        obj = getattr(wsconnector, name)
        if name in ("Event",):  # a typing alias documents itself in the source
            continue
        if not (obj.__doc__ or "").strip():
            undocumented.append(name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for member_name, member in vars(obj).items():
                if member_name.startswith("_") or not (
                    callable(member) or isinstance(member, property) or inspect.isdatadescriptor(member)
                ):
                    continue
                if not (getattr(member, "__doc__", None) or "").strip():
                    undocumented.append(f"{name}.{member_name}")
    assert undocumented == []


def test_the_package_exports_what_its_all_lists() -> None:
    assert sorted(wsconnector.__all__) == sorted(set(wsconnector.__all__))
    for name in wsconnector.__all__:
        assert hasattr(wsconnector, name), name
    assert wsconnector.__version__ == wsconnector.VERSION


def test_the_extension_carries_no_c_api() -> None:
    """The C API is a layer of its own (the core's `capi` feature), not part of the extension:
    the extension exports none of its `wsc_*` functions."""
    extension = ctypes.CDLL(wsconnector._native.__file__)
    for name in ("wsc_version", "wsc_config_new", "wsc_connector_start", "wsc_set_log_callback"):
        assert not hasattr(extension, name), name


RENAMED = {
    "InvalidArgument": "InvalidArgumentError",
    "NoSuchSocket": "NoSuchSocketError",
    "InvalidSocketId": "InvalidSocketIdError",
    "NonUniqueSocketId": "NonUniqueSocketIdError",
    "Timeout": "TimeoutError",
    "RemotelyClosed": "RemotelyClosedError",
    "LimitExceeded": "LimitExceededError",
    "QueueFull": "QueueFullError",
    "InvalidState": "InvalidStateError",
    "Stopped": "StoppedError",
    "Unauthorized": "UnauthorizedError",
    "Forbidden": "ForbiddenError",
    "NotFound": "NotFoundError",
    "ServiceUnavailable": "ServiceUnavailableError",
}


def test_exception_names_end_in_error_and_the_old_names_are_aliases() -> None:
    for old, new in RENAMED.items():
        assert getattr(wsconnector, old) is getattr(wsconnector, new), old
    errors = {
        obj
        for obj in vars(wsconnector).values()
        if inspect.isclass(obj) and issubclass(obj, wsconnector.WebSocketError)
    }
    # The base, one per error kind, and HandshakeError's five for the statuses Mule names.
    assert len(errors) == 25
    assert all(error.__name__.endswith("Error") for error in errors)
    assert all(error.__module__ == "wsconnector" for error in errors)


def test_the_timeout_error_derives_from_the_builtin_without_shadowing_it() -> None:
    assert issubclass(wsconnector.TimeoutError, builtins.TimeoutError)
    assert issubclass(wsconnector.TimeoutError, wsconnector.WebSocketError)
    assert wsconnector.TimeoutError is not builtins.TimeoutError
    star: dict[str, object] = {}
    exec("from wsconnector import *", star)
    assert "TimeoutError" not in star and star["Timeout"] is wsconnector.TimeoutError
