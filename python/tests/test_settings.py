"""The keyword settings: every one is accepted and reaches the core's configuration, bad values
raise an error that names the setting, and the `Settings` TypedDict lists exactly the settings
of the core's table, each with the type of its kind."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest

import wsconnector
from wsconnector import _native

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

# Values of every shape the settings take (a choice as its enum, PEM as text, bytes and paths).
GOOD: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 0,
    "base_path": "/app",
    "paths": {
        "/chat/*": ["lobby"],
        "/feed": "quotes",
        "/admin": {"groups": "staff", "allowed_origins": ["https://admin.example.com"]},
        "/plain": {"compression": False},
    },
    "subprotocols": ["v2", "v1"],
    "tls_cert": PEM,
    "tls_key": pathlib.Path("key.pem"),
    "tls_client_ca": b"-----BEGIN CERTIFICATE-----\n",
    "max_inbound_connections": 10,
    "max_connections_per_ip": 4,
    "handshake_timeout": 2.5,
    "idle_timeout": None,
    "max_handshake_bytes": 8192,
    "allowed_origins": ["https://app.example.com", "*.example.org"],
    "require_origin": False,
    "default_headers": {"User-Agent": "test"},
    "default_query": [("a", "1"), ("a", "2")],
    "connect_timeout": 3,
    "client_idle_timeout": 60,
    "extra_ca": "ca.pem",
    "client_cert": "client.pem",
    "client_key": "client.key",
    "dangerous_skip_certificate_verification": False,
    "max_message_size": 1 << 20,
    "send_queue_messages": 16,
    "send_queue_bytes": 1 << 20,
    "slow_consumer": wsconnector.SlowConsumerPolicy.DROP_OLDEST,
    "ping_interval": None,
    "pong_timeout": 5,
    "close_timeout": 1.5,
    "message_rate_limit": (100, 10),
    "message_rate_policy": wsconnector.MessageRatePolicy.DROP,
    "compression": True,
    "inbound_compression": True,
    "outbound_compression": False,
    "server_no_context_takeover": True,
    "client_no_context_takeover": False,
    "server_max_window_bits": 10,
    "client_max_window_bits": None,
    "compression_threshold": 128,
    "compression_level": 6,
    "worker_threads": 1,
    "dispatcher_threads": 3,
    "stop_timeout": 2,
    "event_queue_capacity": 100,
    "event_queue_bytes": 1 << 20,
    "cluster": "redis://127.0.0.1:6379/0",
    "cluster_name": "chat",
    "node_name": "node-1",
    "cluster_password": "secret",
    "cluster_timeout": 1.5,
    "cluster_node_expiry": 5.0,
}


def test_the_typeddict_lists_the_settings_the_module_reads() -> None:
    assert list(wsconnector.Settings.__annotations__) == list(_native.SETTINGS)
    assert set(GOOD) <= set(_native.SETTINGS)


# The annotation of each kind of setting in the `Settings` TypedDict (the table gives the kinds).
ANNOTATION_OF_KIND = {
    "bool": "Optional[bool]",
    "count": "Optional[int]",
    "optional_count": "Optional[int]",
    "bytes": "Optional[int]",
    "duration": "Optional[float]",
    "optional_duration": "Optional[float]",
    "text": "Optional[str]",
    "text_list": "Optional[Groups]",
    "pairs": "Optional[Pairs]",
    "pem": "Optional[PemSource]",
}


def annotation(name: str) -> str:
    written = wsconnector.Settings.__annotations__[name]
    return str(getattr(written, "__forward_arg__", written))


def choices(name: str) -> list[str]:
    """The names a choice setting's `Literal[...]` annotation allows."""
    literal = re.search(r"Literal\[([^]]*)\]", annotation(name))
    assert literal, f"{name}: a choice is annotated with a Literal"
    return re.findall(r"['\"]([^'\"]*)['\"]", literal.group(1))


def test_the_typeddict_gives_each_setting_the_type_of_its_kind() -> None:
    for name, kind in _native.SETTINGS.items():
        if kind == "choice":
            enum = re.search(r"\], (\w+), None\]$", annotation(name))
            assert enum, f"{name}: a choice also takes its enum"
            assert choices(name) == [m.value for m in getattr(wsconnector, enum.group(1))]
        elif kind != "custom":
            assert annotation(name) == ANNOTATION_OF_KIND[kind], name


# A configuration with every optional part present (a listener with TLS and a path, a client
# certificate, a reconnect policy), so that a field inside one is reached only when a setting changes it.
BASE: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 0,
    "paths": ["/"],
    "tls_cert": "a.pem",
    "tls_key": "a.key",
    "client_cert": "a.pem",
    "client_key": "a.key",
    "message_rate_limit": (1, 1),
    "reconnect": True,
    "extra_ca": "a.pem",  # trusted_roots="extra_ca_only" needs one
    "cluster": "redis://127.0.0.1:6379/0",
}
# Values of each kind that no setting has by default and that pass the core's checks.
SAMPLES: dict[str, list[Any]] = {
    "bool": [True, False],
    "count": [300],
    "optional_count": [300],
    "bytes": [300],
    "duration": [1.5],
    "optional_duration": [1.5],
    "text_list": [["*"]],
    "pairs": [[("X-A", "1")]],
    "pem": ["b.pem"],
}
# The keywords of the custom settings, which take values of their own, and of the settings
# whose range is narrow (window sizes 8-15, compression levels 1-9).
CUSTOM_SAMPLES: dict[str, list[Any]] = {
    "host": ["::1"],
    "port": [9],
    "paths": [{"/p": {"groups": ["g"], "allowed_origins": ["*"], "compression": True}}],
    "server_max_window_bits": [9],
    "client_max_window_bits": [9],
    "compression_level": [9],
    "tls_cert": ["b.pem"],
    "tls_key": ["b.key"],
    "client_cert": ["b.pem"],
    "client_key": ["b.key"],
    "message_rate_limit": [(5, 3)],
    "reconnect": [
        wsconnector.Reconnect(
            initial_delay=1,
            max_delay=2,
            multiplier=3,
            max_attempts=4,
            lazy=True,
            send_policy="fail",
            final_close_codes=[(4000, 4099)],
        )
    ],
    # Text settings whose value is a host or a URL.
    "client_host": ["feed.example"],
    "proxy": ["http://127.0.0.1:3128"],
    "cluster": ["redis://h:1/0"],
    "cluster_name": ["c1"],
    "node_name": ["n1"],
    "cluster_password": ["pw"],
}


def samples(name: str, kind: str) -> list[Any]:
    if name in CUSTOM_SAMPLES:
        return CUSTOM_SAMPLES[name]
    if kind == "text":
        return [f"/{name}"]  # a path of its own per setting: the endpoint paths may not coincide
    if kind == "choice":
        return list(choices(name))
    assert kind in SAMPLES, f"{name}: no sample value for the kind {kind!r}"
    return SAMPLES[kind]


def test_every_config_field_is_reachable_from_python() -> None:
    """Each keyword, given a value, changes the core's configuration; together they change
    every field of it (a field of `Config` without a setting in the table fails here)."""
    before = dict(_native._config_fields(**BASE))
    reached: dict[str, str] = {}
    for name, kind in _native.SETTINGS.items():
        changed: set[str] = set()
        for value in samples(name, kind):
            after = dict(_native._config_fields(**{**BASE, name: value}))
            changed |= {field for field, text in after.items() if before.get(field) != text}
        assert changed, f"{name} changes nothing"
        for field in changed:
            reached.setdefault(field, name)
    assert set(before) - set(reached) == set()


def test_an_alias_is_its_setting_under_another_name() -> None:
    """Each alias (max_connections, the first name of max_inbound_connections) reaches what its
    setting's name reaches; giving a setting under both names raises an error naming both (None
    is not giving it)."""
    assert _native.SETTING_ALIASES["max_connections"] == "max_inbound_connections"
    for alias, name in _native.SETTING_ALIASES.items():
        assert _native.SETTINGS[alias] == _native.SETTINGS[name]
        for value in samples(name, _native.SETTINGS[name]):
            by_alias = _native._config_fields(**{**BASE, alias: value})
            assert by_alias == _native._config_fields(**{**BASE, name: value})
            for given in [{name: value, alias: value}, {alias: value, name: value}]:
                with pytest.raises(wsconnector.InvalidArgumentError) as error:
                    wsconnector.Connector(port=0, **given)
                assert name in str(error.value) and alias in str(error.value), error.value
            wsconnector.Connector(port=0, **{name: value, alias: None})
            wsconnector.Connector(port=0, **{name: None, alias: value})


def test_every_setting_is_accepted() -> None:
    connector = wsconnector.Connector(**GOOD)
    assert not connector.is_running
    every = {
        name: samples(name, kind)[0]
        for name, kind in _native.SETTINGS.items()
        if name not in _native.SETTING_ALIASES
    }
    wsconnector.Connector(**every)
    wsconnector.Connector(**{name: None for name in _native.SETTINGS})


def test_a_connector_without_host_or_port_is_client_only() -> None:
    with wsconnector.Connector() as connector:
        assert connector.port is None and connector.is_running
    with wsconnector.Connector(port=0) as connector:
        assert connector.local_address is not None
        assert connector.local_address[0] == "127.0.0.1"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("port", 70000),
        ("port", "80"),
        ("base_path", "no-slash"),
        ("paths", ["chat"]),
        ("paths", {"/chat": [""]}),
        ("subprotocols", ["has space"]),
        ("max_inbound_connections", 0),
        ("max_connections", 0),
        ("max_connections_per_ip", 0),
        ("allowed_origins", ["https://app.example.com/"]),
        ("require_origin", "yes"),
        ("max_message_size", -1),
        ("send_queue_messages", 0),
        ("handshake_timeout", -1),
        ("handshake_timeout", "soon"),
        ("ping_interval", 0),
        ("pong_timeout", float("inf")),
        ("default_headers", {"Bad Header": "x"}),
        ("default_headers", "not pairs"),
        ("slow_consumer", "ignore"),
        ("message_rate_limit", (10, 0)),
        ("message_rate_limit", "fast"),
        ("message_rate_policy", "ignore"),
        ("dangerous_skip_certificate_verification", "yes"),
        ("worker_threads", 0),
        ("dispatcher_threads", 0),
        ("server_max_window_bits", 16),
        ("client_max_window_bits", 7),
        ("compression_level", 10),
        ("compression", "yes"),
        ("paths", {"/chat": {"compression": "yes"}}),
        ("event_queue_capacity", 0),
        ("event_queue_bytes", -1),
        ("tls_cert", 42),
    ],
)
def test_bad_values_name_the_setting(name: str, value: object) -> None:
    settings: dict[str, Any] = {"port": 0, name: value}
    if name == "tls_cert":
        settings["tls_key"] = PEM
    with pytest.raises(wsconnector.InvalidArgumentError) as error:
        wsconnector.Connector(**settings)
    assert name.split("_timeout")[0] in str(error.value) or str(value) in str(error.value)
    assert isinstance(error.value, ValueError)


DURATIONS = [
    "handshake_timeout",
    "idle_timeout",
    "connect_timeout",
    "client_idle_timeout",
    "ping_interval",
    "pong_timeout",
    "close_timeout",
    "stop_timeout",
]
A_YEAR = 365 * 24 * 3600


@pytest.mark.parametrize("name", DURATIONS)
def test_durations_are_at_most_a_year_and_real_numbers(name: str) -> None:
    """A huge one (ping_interval=1e19) once panicked in every socket's task."""
    wsconnector.Connector(port=0, **{name: A_YEAR})
    for value, says in [
        (A_YEAR + 1, "one year"),
        (1e19, "one year"),
        (float("inf"), "one year"),
        (float("nan"), "NaN"),
        (-1, "negative"),
        (float("-inf"), "negative"),
    ]:
        with pytest.raises(wsconnector.InvalidArgument, match=says) as error:
            wsconnector.Connector(port=0, **{name: value})
        assert name in str(error.value), error.value


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("send_queue_messages", 0, "send_queue_messages must be at least 1, not 0"),
        ("compression_level", 10, "compression_level must be 1-9, not 10"),
        ("max_handshake_bytes", 100, "max_handshake_bytes must be at least 256, not 100"),
        ("metrics_path", "metrics", "metrics_path 'metrics' must be an exact path"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting_and_the_value(name: str, value: object, says: str) -> None:
    """The setting's own rule (the core's settings table), as the keyword is mapped."""
    with pytest.raises(wsconnector.InvalidArgumentError) as error:
        wsconnector.Connector(port=0, **{name: value})  # type: ignore[arg-type]
    assert says.replace("'", '"') in str(error.value)


def test_operation_timeouts_are_checked_too() -> None:
    with wsconnector.Connector() as connector:
        with pytest.raises(wsconnector.InvalidArgument, match="timeout.*one year"):
            connector.open_outbound("ws://127.0.0.1:9/", timeout=1e19)
        with pytest.raises(wsconnector.InvalidArgument, match="timeout.*NaN"):
            connector.next_events(timeout=float("nan"))


def test_listener_settings_need_a_listener_and_typos_are_type_errors() -> None:
    with pytest.raises(wsconnector.InvalidArgumentError, match="base_path is a listener setting"):
        wsconnector.Connector(base_path="/x")
    with pytest.raises(wsconnector.InvalidArgumentError, match="max_handshake_bytes is a listener"):
        wsconnector.Connector(max_handshake_bytes=1024)
    wsconnector.Connector(default_headers={"X-A": "1"}, event_queue_capacity=10)  # client-only
    with pytest.raises(TypeError, match="hots"):
        wsconnector.Connector(hots="127.0.0.1")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="hots"):
        wsconnector.Connector(hots=None)  # type: ignore[call-arg]


def test_exceptions_form_one_hierarchy() -> None:
    kinds = [
        wsconnector.InvalidArgumentError,
        wsconnector.NoSuchSocketError,
        wsconnector.InvalidSocketIdError,
        wsconnector.NonUniqueSocketIdError,
        wsconnector.ConnectivityError,
        wsconnector.DnsError,
        wsconnector.TlsError,
        wsconnector.HandshakeError,
        wsconnector.TimeoutError,
        wsconnector.RemotelyClosedError,
        wsconnector.LimitExceededError,
        wsconnector.QueueFullError,
        wsconnector.InvalidStateError,
        wsconnector.StoppedError,
        wsconnector.ProtocolError,
        wsconnector.InternalError,
        wsconnector.RetryExhaustedError,
        wsconnector.BasicAuthenticationError,
        wsconnector.ReconnectingError,
    ]
    for kind in kinds:
        assert issubclass(kind, wsconnector.WebSocketError), kind
        assert kind.__doc__ and kind.__module__ == "wsconnector"
    assert issubclass(wsconnector.TimeoutError, TimeoutError)
    assert issubclass(wsconnector.ConnectivityError, ConnectionError)
    assert issubclass(wsconnector.NoSuchSocketError, LookupError)
    assert wsconnector.HandshakeError("x").status is None
    assert not issubclass(wsconnector.PanicException, Exception)
    assert int(wsconnector.CloseCode.GOING_AWAY) == 1001
