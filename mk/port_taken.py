"""Says why the example NAME cannot listen on HOST:PORT, in one line ending with HINT (how to
pick another port), and nothing when it can: `make demo` checks its ports with it before
building, so that a taken port stops it at once."""

import socket
import sys

name, host, port = sys.argv[1:4]
hint = sys.argv[4] if len(sys.argv) > 4 else "PORT=9000 picks another port"
if not port.isdigit() or not 0 < int(port) < 65536:
    print(f"{name}: PORT must be a port number (1-65535), not {port!r}")
    sys.exit()
probe = socket.socket()
probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the examples bind (tokio)
try:
    probe.bind((host, int(port)))
except OSError as e:
    print(f"{name}: cannot listen on {host}:{port}: {e.strerror}; {hint}")
finally:
    probe.close()
