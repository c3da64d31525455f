"""picows on uvloop, the fastest Python WebSocket server we know of: the comparison for the
Python row. Same behaviour as every server measured (see benches/README.md): a message is
echoed to its sender; a socket on /fanout/recv is in group "fan"; a message on /fanout/trigger
is sent to every socket of that group. Prints its port once it accepts connections, then
serves until the process is ended.

    python picows_server.py [--port 0]

picows hands over frames, not messages; the load client sends every message in one frame.
"""

import argparse

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

FANOUT_RECV_PATH = b"/fanout/recv"
FANOUT_TRIGGER_PATH = b"/fanout/trigger"


class Echo(WSListener):
    """Sends every data frame back to its sender."""

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type in (WSMsgType.BINARY, WSMsgType.TEXT):
            transport.send(frame.msg_type, frame.get_payload_as_memoryview())
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()


class Receiver(Echo):
    """A member of the fan-out group while it is connected."""

    def __init__(self, group: "set[WSTransport]") -> None:
        self.group = group

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.group.add(transport)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.group.discard(transport)


class Trigger(Echo):
    """Sends every data frame to each member of the group."""

    def __init__(self, group: "set[WSTransport]") -> None:
        self.group = group

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type in (WSMsgType.BINARY, WSMsgType.TEXT):
            payload = frame.get_payload_as_bytes()
            for member in self.group:
                member.send(frame.msg_type, payload)
        else:
            super().on_ws_frame(transport, frame)


async def serve(port: int) -> None:
    group: "set[WSTransport]" = set()

    def listener_for(request: WSUpgradeRequest) -> WSListener:
        path = request.path.split(b"?", 1)[0]
        if path == FANOUT_RECV_PATH:
            return Receiver(group)
        if path == FANOUT_TRIGGER_PATH:
            return Trigger(group)
        return Echo()

    server = await ws_create_server(listener_for, "127.0.0.1", port)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    uvloop.run(serve(args.port))


if __name__ == "__main__":
    main()
