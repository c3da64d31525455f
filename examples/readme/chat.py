from typing import Union

import wsconnector

chat = wsconnector.Connector(host="127.0.0.1", port=8080, paths={"/chat/*": ["lobby"]})


@chat.on_inbound_message
def relay(socket: wsconnector.Socket, message: Union[str, bytes]) -> None:
    if message == "/join vip":
        socket.subscribe("vip")  # on the socket at hand: no ID lookup
    # str goes out as text, bytes as binary; socket_type defaults to "all" (outbound feeds too)
    chat.broadcast(message, groups=socket.groups, except_socket_ids=[socket.id])
    socket.send("sent")  # a reply, likewise


@chat.authorize
def check(request: wsconnector.AuthRequest) -> Union[bool, wsconnector.Reject]:
    return request.header("Authorization") == "Bearer secret" or wsconnector.Reject(401, "who?")


chat.start()
print(f"listening on ws://127.0.0.1:{chat.port}/chat/ROOM; Ctrl-C stops", flush=True)
chat.serve_forever()  # serves until stop(), Ctrl-C or SIGTERM; then stops cleanly
