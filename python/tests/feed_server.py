"""A feed server for the reconnect tests, run as a process of its own so that a test can kill
it (SIGKILL: its connections are reset, as when a real feed crashes) and start it again on the
same port. Built on the independent `websockets` library: it echoes every message and prints
`got <message>` for each, and `port <n>` once it listens.

    python feed_server.py PORT    (0: a free port)
"""

from __future__ import annotations

import sys

from websockets.sync.server import ServerConnection, serve


def echo(connection: ServerConnection) -> None:
    for message in connection:
        print(f"got {message}", flush=True)
        connection.send(message)


def main() -> None:
    with serve(echo, "127.0.0.1", int(sys.argv[1])) as server:
        print(f"port {server.socket.getsockname()[1]}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
