'use strict';
// Errors: one base class, WebSocketError, and one subclass per error kind of the core, named
// as the Python package names them; `code` is the C API's wsc_result and `kind` its name.

class WebSocketError extends Error {
  /**
   * @param {string} message what went wrong, as the library says it
   * @param {number} code the wsc_result code
   * @param {string} kind the code's name ("no_such_socket")
   */
  constructor(message, code, kind) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.kind = kind;
  }
}

/** The error kinds by wsc_result code (1-19 are the core's kinds one to one). */
const KINDS = [
  [1, 'InvalidArgument', 'An argument or setting was malformed (the message names it).'],
  [2, 'NoSuchSocket', 'No open socket has the given ID (it never existed, or it has closed).'],
  [3, 'InvalidSocketId', 'A caller-chosen socket ID is empty, blank or too long.'],
  [4, 'NonUniqueSocketId', 'A caller-chosen socket ID is already used by an open socket.'],
  [5, 'ConnectivityError', 'The TCP connection could not be made or broke.'],
  [6, 'DnsError', 'The host name of an outbound URL did not resolve.'],
  [7, 'TlsError', 'TLS failed: untrusted or mismatched certificate, unreadable PEM, handshake.'],
  [8, 'HandshakeError', 'The peer answered the handshake with an HTTP status other than 101.'],
  [9, 'Timeout', 'A connect, handshake or stop did not finish in time.'],
  [10, 'RemotelyClosed', 'The peer closed (or is closing) the socket.'],
  [11, 'LimitExceeded', 'A configured limit was reached (a message larger than the send queue).'],
  [12, 'QueueFull', "The socket's send queue is full and the slow-consumer policy is 'fail'."],
  [13, 'InvalidState', 'The call is not allowed now (e.g. before start, or without a listener).'],
  [14, 'Stopped', 'The connector is stopped or stopping.'],
  [15, 'ProtocolError', 'The peer broke the WebSocket protocol.'],
  [16, 'InternalError', 'A bug inside the library (a caught panic, or a C API misuse).'],
  [17, 'RetryExhaustedError', "An outbound socket's reconnect attempts ran out and it closed."],
  [18, 'BasicAuthenticationError', "The server refused the handshake's basic authentication."],
  [19, 'ReconnectingError', 'The outbound socket is reconnecting and its policy fails sends.'],
];

const classes = { WebSocketError };
const byCode = new Map();
for (const [code, name] of KINDS) {
  // A named class per kind, so that `err.name` and stack traces say which.
  const cls = { [name]: class extends WebSocketError {} }[name];
  classes[name] = cls;
  byCode.set(code, cls);
}

/** HandshakeError carries the HTTP status the peer answered with. */
classes.HandshakeError.prototype.status = null;
classes.BasicAuthenticationError.prototype.status = null;

/** The error for a failed call: `{code, kind, message, status}` from native.lastError. */
function toError({ code, kind, message, status }) {
  const cls = byCode.get(code) || classes.InternalError;
  const error = new cls(message || kind, code, kind);
  if ((cls === classes.HandshakeError || cls === classes.BasicAuthenticationError) && status) {
    error.status = status;
  }
  return error;
}

/** An InvalidArgument raised by the binding itself (a setting it checks). */
function invalidArgument(message) {
  return new classes.InvalidArgument(message, 1, 'invalid_argument');
}

/** An InvalidState raised by the binding itself. */
function invalidState(message) {
  return new classes.InvalidState(message, 13, 'invalid_state');
}

/** A Stopped raised by the binding itself (an operation after stop()). */
function stopped() {
  return new classes.Stopped('the connector is stopped', 14, 'stopped');
}

module.exports = { ...classes, toError, invalidArgument, invalidState, stopped };
