"""wsconnector through its Python package: the benchmark's server, with the behaviour every
server measured shares (see benches/README.md): a message is echoed to its sender; a socket on
/fanout/recv is in group "fan"; a message on /fanout/trigger is broadcast to that group. Prints
its port once it accepts connections, then serves until the process is ended.

    python server.py [--port 0] [--dispatcher-threads N]

Settings are the package's defaults except the connection limit, raised for the idle load, and
`--dispatcher-threads` (default: the package's, 4; 1: one thread calls every callback).
"""

import argparse
import threading

import wsconnector

ECHO_PATH = "/echo"
FANOUT_RECV_PATH = "/fanout/recv"
FANOUT_TRIGGER_PATH = "/fanout/trigger"
FANOUT_GROUP = "fan"


# Idle sockets park after this (the library's default: 10 s), for a short idle run.
PARK_IDLE_AFTER_S = 1.0
METRICS_PATH = "/metrics"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dispatcher-threads", type=int, default=None)
    args = parser.parse_args()
    pool = {} if args.dispatcher_threads is None else {"dispatcher_threads": args.dispatcher_threads}

    connector = wsconnector.Connector(
        host="127.0.0.1",
        port=args.port,
        # Receivers join the group through the path's default groups, before their 101.
        # The loads' paths, each declared: the metrics path must not be a WebSocket path.
        paths={FANOUT_RECV_PATH: [FANOUT_GROUP], ECHO_PATH: None, FANOUT_TRIGGER_PATH: None},
        max_inbound_connections=1 << 20,
        # The idle load reads memory once the sockets are parked, as the metrics path says.
        park_idle_after=PARK_IDLE_AFTER_S,
        metrics_path=METRICS_PATH,
    )

    @connector.on_inbound_message
    def on_message(socket: wsconnector.Socket, message: "str | bytes") -> None:
        if socket.path == FANOUT_TRIGGER_PATH:
            connector.broadcast(message, groups=[FANOUT_GROUP])
        else:
            socket.send(message)

    connector.start()
    print(f"{connector.port} --metrics-path {METRICS_PATH}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
