"""An independent WebSocket client for the Go tests: the Python `websockets` library, driven
over stdin/stdout with one JSON object a line.

Usage: python client.py URL
Prints {"open": true} once connected, {"message": TEXT} (or {"binary": HEX}) for each message
received, and {"closed": CODE, "reason": TEXT} at the end. Reads {"send": TEXT} and
{"close": CODE} lines. Exits when the connection has closed.
"""

import json
import sys
import threading

import websockets.sync.client

WAIT = 10.0


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    with websockets.sync.client.connect(sys.argv[1], proxy=None, open_timeout=WAIT) as ws:
        out({"open": True})

        def commands():
            for line in sys.stdin:
                command = json.loads(line)
                if "send" in command:
                    ws.send(command["send"])
                elif "close" in command:
                    ws.close(command["close"])
                    return

        threading.Thread(target=commands, daemon=True).start()
        try:
            for message in ws:
                if isinstance(message, str):
                    out({"message": message})
                else:
                    out({"binary": message.hex()})
        except websockets.exceptions.ConnectionClosedError:
            pass
        out({"closed": ws.close_code, "reason": ws.close_reason or ""})


if __name__ == "__main__":
    main()
