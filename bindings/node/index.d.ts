// Type declarations of the wsconnector package (checked by `tsc --noEmit` in its tests).

import { EventEmitter } from 'node:events';

/** A message: a string is text, bytes are binary. */
export type Data = string | Buffer | ArrayBufferView | ArrayBuffer;
/** One group name, or several. */
export type Groups = string | readonly string[];
/** Name/value pairs: an object, or [name, value] tuples (names may repeat). */
export type Pairs = Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>;
/** PEM text (a string containing "-----BEGIN", or a Buffer) or the path of a PEM file. */
export type Pem = string | Buffer;
export type SocketType = 'inbound' | 'outbound';
export type SlowConsumerPolicy = 'fail' | 'drop_newest' | 'drop_oldest' | 'close';
export type SocketState = 'connected' | 'reconnecting' | 'disconnected' | 'closed';

/** How an outbound socket reconnects once its connection ends: exponential backoff with full
 *  jitter (before attempt n a random delay up to min(maxDelayMs, initialDelayMs *
 *  multiplier^(n-1))), at most `maxAttempts` (null: forever) before it closes with
 *  RetryExhaustedError; `lazy`: only when a message is next sent (Mule's lazy mode);
 *  `sendPolicy`: what sends do meanwhile; `finalCloseCodes`: the server's close codes
 *  (codes or [first, last] ranges) that end it instead (default 1000). */
export interface ReconnectPolicy {
  initialDelayMs?: number; // 500
  maxDelayMs?: number; // 30000
  multiplier?: number; // 2
  maxAttempts?: number | null;
  lazy?: boolean;
  sendPolicy?: 'buffer' | 'fail';
  finalCloseCodes?: ReadonlyArray<number | readonly [number, number]>;
}

/**
 * Every setting of `new Connector(settings)`: the Python package's settings in camelCase.
 * Durations are milliseconds, at most one year; `null` keeps a setting's default, except for
 * `pingInterval`, `idleTimeout` and `clientIdleTimeout`, where it turns the feature off.
 * With neither `host` nor `port` the connector has no listener (client only).
 */
export interface Settings {
  host?: string | null; // address to bind (default 127.0.0.1)
  port?: number | null; // port to bind; 0 (the default) lets the OS pick: read connector.port
  basePath?: string | null; // prefix of every served path (default "/")
  /** Served paths (exact or "*" patterns) with their default groups, e.g. {"/chat/*": ["lobby"]}. */
  paths?: Readonly<Record<string, Groups | null>> | Groups | null;
  subprotocols?: Groups | null; // accepted, in order of preference
  tlsCert?: Pem | null; // certificate chain (leaf first): serves wss://
  tlsKey?: Pem | null; // its private key
  tlsClientCa?: Pem | null; // CAs whose client certificates are required (mutual TLS)
  maxInboundConnections?: number | null; // most inbound sockets at once; more get 503 (10000)
  /** @deprecated maxInboundConnections under its first name (give one of the two). */
  maxConnections?: number | null;
  handshakeTimeout?: number | null; // TCP accept to end of upgrade (10 s)
  idleTimeout?: number | null; // inbound sockets idle this long are closed (15 min; null: never)
  maxHandshakeBytes?: number | null; // largest upgrade request; more get 431 (16384)
  metricsPath?: string | null; // plain HTTP path serving the figures as Prometheus text ("/metrics")
  metricsAllowedAddresses?: Groups | null; // clients (IPs, CIDR blocks, "*") that may read it (loopback)
  healthPath?: string | null; // plain HTTP health path: 200 running, 503 draining ("/health")
  defaultHeaders?: Pairs | null; // headers of every outbound handshake
  defaultQuery?: Pairs | null; // query parameters added to every outbound URL
  connectTimeout?: number | null; // DNS, TCP, TLS and upgrade of an outbound socket (30 s)
  clientIdleTimeout?: number | null; // outbound sockets idle this long are closed (never)
  extraCa?: Pem | null; // CAs trusted besides the bundled web roots
  clientCert?: Pem | null; // certificate chain presented to servers that ask (mutual TLS)
  clientKey?: Pem | null; // its private key
  dangerousSkipCertificateVerification?: boolean | null; // trust any server: tests only
  maxMessageSize?: number | null; // largest message accepted; larger closes with 1009 (16 MiB)
  sendQueueMessages?: number | null; // most messages waiting in a socket's send queue (1024)
  sendQueueBytes?: number | null; // most bytes waiting in a socket's send queue (16 MiB)
  slowConsumer?: SlowConsumerPolicy | null; // what a send does when a queue is full ("fail")
  pingInterval?: number | null; // between keepalive pings (30 s; null: no pings)
  pongTimeout?: number | null; // a ping unanswered this long closes the socket (20 s)
  closeTimeout?: number | null; // time the peer has to answer our close frame (5 s)
  parkIdleAfter?: number | null; // ms a plain socket is quiet before it parks, holding less memory (default 10 s; 0: never)
  workerThreads?: number | null; // I/O threads (default: the CPU count, at most 4)
  stopTimeout?: number | null; // how long stop waits for sends and close handshakes (5 s)
  eventQueueCapacity?: number | null; // events waiting for listeners; past it sockets stop reading
  eventQueueBytes?: number | null; // payload bytes in those events; past it too (64 MiB)
  trustedRoots?: 'bundled' | 'system' | 'extra_ca_only' | null; // roots wss:// trusts besides extraCa
  clientScheme?: 'ws' | 'wss' | null; // the client base, for opens that give a path
  clientHost?: string | null;
  clientPort?: number | null;
  clientBasePath?: string | null;
  followRedirects?: boolean | null; // follow the handshake's redirects, never wss to ws (true)
  maxRedirects?: number | null; // (5)
  proxy?: string | null; // an HTTP proxy, "http://host:port", tunnelled through with CONNECT
  proxyUsername?: string | null;
  proxyPassword?: string | null;
  noProxy?: Groups | null; // hosts (and subdomains), addresses or "*" reached directly
  proxyFromEnvironment?: boolean | null; // read HTTPS_PROXY, HTTP_PROXY, NO_PROXY (false)
  basicAuthUsername?: string | null; // basic authentication on outbound handshakes
  basicAuthPassword?: string | null;
  maxOutboundConnections?: number | null; // most outbound sockets at once (default: no limit)
  reconnect?: boolean | ReconnectPolicy | null; // outbound sockets' default policy (none)
  compression?: boolean | null; // permessage-deflate on the listener and outbound sockets (false)
  serverNoContextTakeover?: boolean | null; // the server compresses each message alone (false)
  clientNoContextTakeover?: boolean | null; // the client compresses each message alone (false)
  serverMaxWindowBits?: number | null; // the server's window, 8-15 bits (15)
  clientMaxWindowBits?: number | null; // the client's window, 8-15 bits (15)
  compressionThreshold?: number | null; // shorter messages go uncompressed (64 bytes)
  compressionLevel?: number | null; // zlib's level, 1 (fastest) to 9 (smallest) (2)
}

/** Options of `openOutbound`. */
export interface OutboundOptions {
  headers?: Readonly<Record<string, string>>;
  query?: Readonly<Record<string, string>>;
  subprotocols?: Groups;
  groups?: Groups;
  /** The socket's ID (else a random UUID). */
  socketId?: string | null;
  /** Connect timeout in milliseconds (else the connector's `connectTimeout`). */
  timeout?: number | null;
  /** Values of the URL's (or path's) `{name}` templates. */
  uriParams?: Readonly<Record<string, string>>;
  /** true (the connector's policy or the default one), false, a policy, or null (the
   *  connector's `reconnect` setting decides). */
  reconnect?: boolean | ReconnectPolicy | null;
  /** Offer permessage-deflate (or not) whatever the connector's `compression` says. */
  compression?: boolean | null;
}

/** Which sockets a broadcast, bulk close or listing is for; the parts combine with AND. */
export interface Filter {
  /** Full path, exact or with `*` patterns. */
  path?: string | null;
  socketType?: SocketType | 'all' | null;
  /** Member of any of these groups. */
  groups?: Groups | null;
  /** Member of every one of these groups. */
  allGroups?: Groups | null;
  /** Sockets left out by ID ("the room but not the sender"). */
  exceptSocketIds?: Groups | null;
  /** Sockets in any of these groups are left out. */
  exceptGroups?: Groups | null;
}

/** What a broadcast did. */
export interface BroadcastReport {
  /** How many sockets the message was queued for. */
  delivered: number;
  /** How many older queued messages the drop_oldest policy discarded. */
  droppedOldest: number;
  /** How many of the delivered wait for reconnecting sockets (the buffer policy). */
  buffered: number;
  /** The matching sockets that did not get the message. */
  failures: BroadcastFailure[];
}

export interface BroadcastFailure {
  socketId: string;
  reason: 'dropped' | 'closed' | 'failed';
  /** For 'failed': why. */
  error: WebSocketError | null;
}

/** A socket: its attributes as of its latest event, and the operations on it. */
export class Socket {
  private constructor();
  readonly id: string;
  readonly type: SocketType;
  readonly path: string;
  readonly uri: string;
  readonly scheme: 'ws' | 'wss';
  readonly subprotocol: string | null;
  /** The negotiated extensions ("permessage-deflate; ..."), or null. */
  readonly extensions: string | null;
  readonly headers: ReadonlyArray<[string, string]>;
  readonly query: ReadonlyArray<[string, string]>;
  readonly localAddress: string | null;
  readonly remoteAddress: string | null;
  readonly peerCertificate: Buffer | null;
  readonly peerCertificateSubject: string | null;
  readonly groups: readonly string[];
  readonly state: SocketState;
  readonly lastError: WebSocketError | null;
  header(name: string): string | null;
  queryParam(name: string): string | null;
  send(data: Data): boolean;
  close(code?: number, reason?: string): void;
  subscribe(groups: Groups): void;
  unsubscribe(groups: Groups): void;
}

export interface ConnectorEvents {
  inboundConnection: [socket: Socket];
  inboundMessage: [socket: Socket, message: string | Buffer];
  outboundMessage: [socket: Socket, message: string | Buffer];
  socketClosed: [socket: Socket, code: number, reason: string];
  outboundReconnecting: [socket: Socket, info: { attempt: number; delayMs: number; error: WebSocketError }];
  outboundReconnected: [socket: Socket, info: { attempts: number }];
  error: [error: unknown];
}

/** A connector: an optional listener and outbound sockets; its events are emitted on the
 *  event loop, in order for each socket. */
export class Connector extends EventEmitter {
  constructor(settings?: Settings);
  on<K extends keyof ConnectorEvents>(event: K, listener: (...args: ConnectorEvents[K]) => void): this;
  once<K extends keyof ConnectorEvents>(event: K, listener: (...args: ConnectorEvents[K]) => void): this;
  off<K extends keyof ConnectorEvents>(event: K, listener: (...args: ConnectorEvents[K]) => void): this;
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly running: boolean;
  /** The listener's port, or null without a listener. */
  readonly port: number | null;
  openOutbound(url: string, options?: OutboundOptions): Promise<string>;
  send(socketId: string, data: Data): boolean;
  subscribe(socketId: string, groups: Groups): void;
  unsubscribe(socketId: string, groups: Groups): void;
  broadcast(data: Data, filter?: Filter): BroadcastReport;
  close(socketId: string, code?: number, reason?: string): void;
  bulkClose(options?: Filter & { code?: number; reason?: string }): number;
  socket(socketId: string): Socket;
  sockets(filter?: Filter): Socket[];
  socketCount(): number;
  /** The connector's figures now, by Prometheus sample name (wsconnector_sockets_open...). */
  metrics(): Record<string, MetricSample[]>;
  /** The connector's figures now as Prometheus text (exposition format 0.0.4). */
  metricsText(): string;
  /** Refuses new handshakes (503, Retry-After), closes the matching sockets in batches;
   *  resolves once they have all closed (or `timeout` ms passed). */
  drain(options?: DrainOptions): Promise<DrainProgress>;
}

/** One sample of the figures: its labels and its value. */
export interface MetricSample {
  labels: Record<string, string>;
  value: number;
}

/** How a drain closes its sockets (milliseconds for durations). */
export interface DrainOptions extends Filter {
  batchSize?: number; // sockets closed at a time (1000)
  interval?: number; // between two batches (1000 ms)
  code?: number; // 1001 going away (the default) or 1012 service restart
  reason?: string; // close reason ("server draining")
  retryAfter?: number; // what refused handshakes are told to wait (5000 ms, sent in seconds)
  timeout?: number; // most time to wait for the sockets to close (-1, the default: no limit)
}

/** Where a drain stands. */
export interface DrainProgress {
  matched: number;
  requested: number;
  closed: number;
  batches: number;
  finished: boolean;
}

/** Base class of every error of the connector; `code` is the C API's result code. */
export class WebSocketError extends Error {
  readonly code: number;
  /** The error kind's name in the C API ("no_such_socket"). */
  readonly kind: string;
}
export class InvalidArgument extends WebSocketError {}
export class NoSuchSocket extends WebSocketError {}
export class InvalidSocketId extends WebSocketError {}
export class NonUniqueSocketId extends WebSocketError {}
export class ConnectivityError extends WebSocketError {}
export class DnsError extends WebSocketError {}
export class TlsError extends WebSocketError {}
export class HandshakeError extends WebSocketError {
  /** The HTTP status the peer answered with. */
  readonly status: number | null;
}
export class Timeout extends WebSocketError {}
export class RemotelyClosed extends WebSocketError {}
export class LimitExceeded extends WebSocketError {}
export class QueueFull extends WebSocketError {}
export class InvalidState extends WebSocketError {}
export class Stopped extends WebSocketError {}
export class ProtocolError extends WebSocketError {}
export class InternalError extends WebSocketError {}
export class RetryExhaustedError extends WebSocketError {}
export class BasicAuthenticationError extends WebSocketError {
  /** The HTTP status the server answered with (401). */
  readonly status: number | null;
}
export class ReconnectingError extends WebSocketError {}

/** Close codes with names (RFC 6455 section 7.4). */
export const CloseCode: {
  readonly NORMAL: 1000;
  readonly GOING_AWAY: 1001;
  readonly PROTOCOL_ERROR: 1002;
  readonly UNSUPPORTED_DATA: 1003;
  readonly NO_STATUS: 1005;
  readonly ABNORMAL: 1006;
  readonly INVALID_PAYLOAD: 1007;
  readonly POLICY_VIOLATION: 1008;
  readonly MESSAGE_TOO_BIG: 1009;
  readonly INTERNAL_ERROR: 1011;
  readonly SERVICE_RESTART: 1012;
  readonly TRY_AGAIN_LATER: 1013;
};

/** The loaded library's version and C ABI version. */
export function version(): { version: string; abi: number };
