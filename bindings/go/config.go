package wsconnector

/*
#include <stdlib.h>
#include <wsconnector.h>

// One bridge per setter signature: the settings table holds the C functions themselves.
typedef wsc_result (*wscgo_size_fn)(wsc_config *, size_t);
typedef wsc_result (*wscgo_ms_fn)(wsc_config *, uint64_t);
typedef wsc_result (*wscgo_bool_fn)(wsc_config *, bool);
typedef wsc_result (*wscgo_u32_fn)(wsc_config *, uint32_t);
typedef wsc_result (*wscgo_str_fn)(wsc_config *, const char *);
typedef wsc_result (*wscgo_pair_fn)(wsc_config *, const char *, const char *);
typedef wsc_result (*wscgo_pem_fn)(wsc_config *, uint32_t, const char *);
typedef wsc_result (*wscgo_pem_pair_fn)(wsc_config *, uint32_t, const char *, const char *);
typedef wsc_result (*wscgo_path_fn)(wsc_config *, const char *, const char *const *, size_t);
static wsc_result wscgo_size(void *f, wsc_config *c, size_t v) { return ((wscgo_size_fn)f)(c, v); }
static wsc_result wscgo_ms(void *f, wsc_config *c, uint64_t v) { return ((wscgo_ms_fn)f)(c, v); }
static wsc_result wscgo_bool(void *f, wsc_config *c, bool v) { return ((wscgo_bool_fn)f)(c, v); }
static wsc_result wscgo_u32(void *f, wsc_config *c, uint32_t v) { return ((wscgo_u32_fn)f)(c, v); }
static wsc_result wscgo_str(void *f, wsc_config *c, const char *v) { return ((wscgo_str_fn)f)(c, v); }
static wsc_result wscgo_pair(void *f, wsc_config *c, const char *a, const char *b) {
	return ((wscgo_pair_fn)f)(c, a, b);
}
static wsc_result wscgo_pem(void *f, wsc_config *c, uint32_t s, const char *v) {
	return ((wscgo_pem_fn)f)(c, s, v);
}
static wsc_result wscgo_pem_pair(void *f, wsc_config *c, uint32_t s, const char *a, const char *b) {
	return ((wscgo_pem_pair_fn)f)(c, s, a, b);
}
static wsc_result wscgo_path(void *f, wsc_config *c, const char *p, const char *const *g, size_t n) {
	return ((wscgo_path_fn)f)(c, p, g, n);
}
*/
import "C"

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"
	"unsafe"
)

// Disabled, as PingInterval, IdleTimeout, ClientIdleTimeout or ParkIdleAfter, turns the feature off.
const Disabled time.Duration = -1

// SlowConsumerPolicy is what a send does when a socket's send queue is full.
type SlowConsumerPolicy string

// The slow-consumer policies.
const (
	SlowConsumerFail       SlowConsumerPolicy = "fail"        // the send fails with ErrQueueFull (the default)
	SlowConsumerDropNewest SlowConsumerPolicy = "drop_newest" // the new message is dropped
	SlowConsumerDropOldest SlowConsumerPolicy = "drop_oldest" // the oldest queued messages make room
	SlowConsumerClose      SlowConsumerPolicy = "close"       // the socket is closed with 1013
)

// Path is a served path pattern (exact, or with `*`) and the groups its sockets start in.
type Path struct {
	Pattern string
	Groups  []string
}

// Config holds every setting of a connector: the Python package's settings (wsconnector.Settings)
// as Go fields. A zero value keeps the library's default. Durations are at most one year.
// With neither Host nor Port the connector has no listener (client only); to listen on a port
// the OS picks, set Host and leave Port 0. PEM settings hold PEM text (containing "-----BEGIN")
// or a file path.
type Config struct {
	Host                  string   // address to bind (default 127.0.0.1 when Port is set)
	Port                  int      // port to bind; 0 with Host set: the OS picks (Connector.Port)
	BasePath              string   // prefix of every served path (default "/")
	Paths                 []Path   // served paths and their default groups (default: every path)
	Subprotocols          []string // accepted, in order of preference
	TLSCert               string   // certificate chain (leaf first): serves wss://
	TLSKey                string   // its private key
	TLSClientCA           string   // CAs whose client certificates are required (mutual TLS)
	MaxInboundConnections int      // most inbound sockets at once; more get 503 (10000)
	// Deprecated: MaxConnections is MaxInboundConnections under its first name (set one).
	MaxConnections    int
	HandshakeTimeout  time.Duration // TCP accept to end of upgrade (10 s)
	IdleTimeout       time.Duration // inbound sockets idle this long are closed (15 min; Disabled: never)
	MaxHandshakeBytes int           // largest upgrade request; more get 431 (16384)
	MetricsPath       string        // plain HTTP path serving the figures as Prometheus text (none)
	MetricsAllowed    []string      // clients (IPs, CIDR blocks, "*") that may read it (loopback)
	HealthPath        string        // plain HTTP health path: 200 running, 503 draining (none)

	DefaultHeaders    http.Header   // headers of every outbound handshake
	DefaultQuery      url.Values    // query parameters added to every outbound URL
	ConnectTimeout    time.Duration // DNS, TCP, TLS and upgrade of an outbound socket (30 s)
	ClientIdleTimeout time.Duration // outbound sockets idle this long are closed (never)
	ExtraCA           string        // CAs trusted besides the bundled web roots
	ClientCert        string        // certificate chain presented to servers that ask (mutual TLS)
	ClientKey         string        // its private key
	// DangerousSkipCertificateVerification trusts any server certificate: for tests only.
	DangerousSkipCertificateVerification bool

	MaxMessageSize    int                // largest message accepted; larger closes with 1009 (16 MiB)
	SendQueueMessages int                // most messages waiting in a socket's send queue (1024)
	SendQueueBytes    int                // most bytes waiting in a socket's send queue (16 MiB)
	SlowConsumer      SlowConsumerPolicy // what a send does when a queue is full (fail)
	PingInterval      time.Duration      // between keepalive pings (30 s; Disabled: none)
	PongTimeout       time.Duration      // a ping unanswered this long closes the socket (20 s)
	CloseTimeout      time.Duration      // time the peer has to answer our close frame (5 s)
	ParkIdleAfter     time.Duration      // a plain socket quiet this long parks, holding less memory (default 10 s; Disabled: never)

	// permessage-deflate (RFC 7692), off by default: Compression turns it on for the listener
	// and outbound sockets; the rest are the parameters this end asks for.
	Compression             bool // on the listener and outbound sockets (false)
	ServerNoContextTakeover bool // the server compresses each message alone (false)
	ClientNoContextTakeover bool // the client compresses each message alone (false)
	ServerMaxWindowBits     int  // the server's window, 8-15 bits (15)
	ClientMaxWindowBits     int  // the client's window, 8-15 bits (15)
	CompressionThreshold    int  // shorter messages go uncompressed (64 bytes)
	CompressionLevel        int  // zlib's level, 1 (fastest) to 9 (smallest) (2)

	WorkerThreads      int           // I/O threads (default: the CPU count, at most 4)
	StopTimeout        time.Duration // how long Stop waits for sends and close handshakes (5 s)
	EventQueueCapacity int           // events waiting for Events(); past it sockets stop reading (65536)
	EventQueueBytes    int           // payload bytes in those events; past it too (64 MiB)

	TrustedRoots   string // roots wss:// trusts besides ExtraCA: "bundled" (default), "system", "extra_ca_only"
	ClientScheme   string // the client base, for opens that give a path: "ws" (default) or "wss"
	ClientHost     string
	ClientPort     int
	ClientBasePath string
	// NoFollowRedirects: the handshake's redirects are errors (they are followed by default,
	// never from wss:// to ws://); MaxRedirects bounds them (5).
	NoFollowRedirects      bool
	MaxRedirects           int
	Proxy                  string // an HTTP proxy, "http://host:port", tunnelled through with CONNECT
	ProxyUsername          string // its basic credentials
	ProxyPassword          string
	NoProxy                []string // hosts (and subdomains), addresses or "*" reached directly
	ProxyFromEnvironment   bool     // read HTTPS_PROXY, HTTP_PROXY and NO_PROXY when Proxy is ""
	BasicAuthUsername      string   // basic authentication on outbound handshakes
	BasicAuthPassword      string
	MaxOutboundConnections int        // most outbound sockets at once (default: no limit)
	Reconnect              *Reconnect // outbound sockets' policy unless their open says otherwise
}

// valueType says how a setting's Go value becomes the arguments of its C function.
type valueType int

const (
	listenerValue           valueType = iota // Host and Port: one wsc_config_set_listener call, made first
	sizeValue                                // int -> size_t
	durationValue                            // time.Duration -> milliseconds
	durationOrOffValue                       // the same, with Disabled -> 0 (off)
	boolValue                                // bool, applied when true
	stringValue                              // string
	addStringValue                           // []string, one call per item
	enumValue                                // SlowConsumerPolicy -> its number
	pemValue                                 // PEM text or path -> (source, text)
	pemPairValue                             // with its partner field: (source, text, partner text)
	pairsValue                               // http.Header or url.Values: one call per value, names sorted
	pathsValue                               // []Path: one call per path
	namedStringValue                         // string, through wsc_config_set_string by name
	namedStringsValue                        // []string, through wsc_config_add_string by name
	namedIntValue                            // int, through wsc_config_set_int by name
	namedBoolValue                           // bool, through wsc_config_set_bool by name
	namedDurationOrOffValue                  // time.Duration, through wsc_config_set_duration_ms by name; Disabled -> 0 (off)
	negatedBoolValue                         // bool, its negation through wsc_config_set_bool by name
	reconnectValue                           // *Reconnect, through wsc_config_set_reconnect
)

// setting is one row of the table: a Config field, its value type, and the C function that
// applies it (for a pem pair, the partner field; for the named kinds, the setting's name).
type setting struct {
	field   string
	kind    valueType
	fn      unsafe.Pointer
	partner string
}

// settings is THE table from each setting to the C API, in the order the calls are made.
// Moving to name-keyed C setters is a change of this table (and of apply's bridges) only.
var settings = []setting{
	{"Host", listenerValue, nil, ""},
	{"Port", listenerValue, nil, ""},
	{"BasePath", stringValue, C.wsc_config_set_base_path, ""},
	{"Paths", pathsValue, C.wsc_config_add_path, ""},
	{"Subprotocols", addStringValue, C.wsc_config_add_subprotocol, ""},
	{"TLSCert", pemPairValue, C.wsc_config_set_server_tls, "TLSKey"},
	{"TLSKey", pemPairValue, nil, "TLSCert"},
	{"TLSClientCA", pemValue, C.wsc_config_set_server_client_ca, ""},
	{"MaxInboundConnections", sizeValue, C.wsc_config_set_max_inbound_connections, ""},
	{"HandshakeTimeout", durationValue, C.wsc_config_set_handshake_timeout_ms, ""},
	{"IdleTimeout", durationOrOffValue, C.wsc_config_set_listener_idle_timeout_ms, ""},
	{"MaxHandshakeBytes", sizeValue, C.wsc_config_set_max_handshake_bytes, ""},
	{"MetricsPath", stringValue, C.wsc_config_set_metrics_path, ""},
	{"MetricsAllowed", addStringValue, C.wsc_config_add_metrics_allowed_address, ""},
	{"HealthPath", stringValue, C.wsc_config_set_health_path, ""},
	{"DefaultHeaders", pairsValue, C.wsc_config_add_client_header, ""},
	{"DefaultQuery", pairsValue, C.wsc_config_add_client_query, ""},
	{"ConnectTimeout", durationValue, C.wsc_config_set_client_connect_timeout_ms, ""},
	{"ClientIdleTimeout", durationOrOffValue, C.wsc_config_set_client_idle_timeout_ms, ""},
	{"ExtraCA", pemValue, C.wsc_config_set_client_extra_ca, ""},
	{"ClientCert", pemPairValue, C.wsc_config_set_client_identity, "ClientKey"},
	{"ClientKey", pemPairValue, nil, "ClientCert"},
	{"DangerousSkipCertificateVerification", boolValue,
		C.wsc_config_set_client_dangerous_skip_certificate_verification, ""},
	{"MaxMessageSize", sizeValue, C.wsc_config_set_max_message_size, ""},
	{"SendQueueMessages", sizeValue, C.wsc_config_set_send_queue_messages, ""},
	{"SendQueueBytes", sizeValue, C.wsc_config_set_send_queue_bytes, ""},
	{"SlowConsumer", enumValue, C.wsc_config_set_slow_consumer, ""},
	{"PingInterval", durationOrOffValue, C.wsc_config_set_ping_interval_ms, ""},
	{"PongTimeout", durationValue, C.wsc_config_set_pong_timeout_ms, ""},
	{"CloseTimeout", durationValue, C.wsc_config_set_close_timeout_ms, ""},
	{"ParkIdleAfter", namedDurationOrOffValue, nil, "park_idle_after"},
	{"Compression", boolValue, C.wsc_config_set_compression, ""},
	{"ServerNoContextTakeover", namedBoolValue, nil, "server_no_context_takeover"},
	{"ClientNoContextTakeover", namedBoolValue, nil, "client_no_context_takeover"},
	{"ServerMaxWindowBits", namedIntValue, nil, "server_max_window_bits"},
	{"ClientMaxWindowBits", namedIntValue, nil, "client_max_window_bits"},
	{"CompressionThreshold", namedIntValue, nil, "compression_threshold"},
	{"CompressionLevel", namedIntValue, nil, "compression_level"},
	{"WorkerThreads", sizeValue, C.wsc_config_set_worker_threads, ""},
	{"StopTimeout", durationValue, C.wsc_config_set_stop_timeout_ms, ""},
	{"EventQueueCapacity", sizeValue, C.wsc_config_set_event_queue_capacity, ""},
	{"EventQueueBytes", sizeValue, C.wsc_config_set_event_queue_bytes, ""},
	{"TrustedRoots", namedStringValue, nil, "trusted_roots"},
	{"ClientScheme", namedStringValue, nil, "client_scheme"},
	{"ClientHost", namedStringValue, nil, "client_host"},
	{"ClientPort", namedIntValue, nil, "client_port"},
	{"ClientBasePath", namedStringValue, nil, "client_base_path"},
	{"NoFollowRedirects", negatedBoolValue, nil, "follow_redirects"},
	{"MaxRedirects", namedIntValue, nil, "max_redirects"},
	{"Proxy", namedStringValue, nil, "proxy"},
	{"ProxyUsername", namedStringValue, nil, "proxy_username"},
	{"ProxyPassword", namedStringValue, nil, "proxy_password"},
	{"NoProxy", namedStringsValue, nil, "no_proxy"},
	{"ProxyFromEnvironment", namedBoolValue, nil, "proxy_from_environment"},
	{"BasicAuthUsername", namedStringValue, nil, "basic_auth_username"},
	{"BasicAuthPassword", namedStringValue, nil, "basic_auth_password"},
	{"MaxOutboundConnections", namedIntValue, nil, "max_outbound_connections"},
	{"Reconnect", reconnectValue, nil, ""},
}

// aliases maps each deprecated Config field to the row of the setting it also sets.
var aliases = map[string]string{"MaxConnections": "MaxInboundConnections"}

var slowConsumerPolicies = map[SlowConsumerPolicy]C.uint32_t{
	SlowConsumerFail:       C.WSC_SLOW_CONSUMER_FAIL,
	SlowConsumerDropNewest: C.WSC_SLOW_CONSUMER_DROP_NEWEST,
	SlowConsumerDropOldest: C.WSC_SLOW_CONSUMER_DROP_OLDEST,
	SlowConsumerClose:      C.WSC_SLOW_CONSUMER_CLOSE,
}

func invalid(format string, args ...interface{}) error {
	return &Error{Kind: ErrInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

// pem is a PEM setting's source and text: inline when it holds "-----BEGIN", else a path.
func pem(value string) (C.uint32_t, string) {
	if strings.Contains(value, "-----BEGIN") {
		return C.WSC_PEM_INLINE, value
	}
	return C.WSC_PEM_FILE, value
}

// build makes a wsc_config from cfg; the caller frees or consumes it. Runs on a locked thread
// (see call), so that a failed setter's message is read where it was set.
func (cfg *Config) build() (*C.wsc_config, error) {
	var config *C.wsc_config
	if result := C.wsc_config_new(&config); result != C.WSC_OK {
		return nil, errorOf(result)
	}
	value := reflect.ValueOf(cfg).Elem()
	for _, row := range settings {
		field, err := row.value(value)
		if err == nil {
			err = row.apply(config, cfg, field)
		}
		if err != nil {
			C.wsc_config_free(config)
			return nil, err
		}
	}
	return config, nil
}

// value is the row's field of cfg, or the deprecated alias field set in its place; both set is
// an error naming both.
func (row setting) value(cfg reflect.Value) (reflect.Value, error) {
	v := cfg.FieldByName(row.field)
	for alias, field := range aliases {
		if field != row.field || cfg.FieldByName(alias).IsZero() {
			continue
		}
		if !v.IsZero() {
			return v, invalid("%s and %s are one setting (%s is deprecated): set one", row.field, alias, alias)
		}
		v = cfg.FieldByName(alias)
	}
	return v, nil
}

// apply makes the C calls of one setting; a zero value keeps the default.
func (row setting) apply(config *C.wsc_config, cfg *Config, v reflect.Value) error {
	if v.IsZero() && row.kind != listenerValue {
		return nil
	}
	ok := func(result C.wsc_result) error {
		if result != C.WSC_OK {
			return errorOf(result)
		}
		return nil
	}
	f := row.fn
	switch row.kind {
	case listenerValue:
		if row.field != "Host" || (cfg.Host == "" && cfg.Port == 0) {
			return nil
		}
		if cfg.Port < 0 || cfg.Port > 65535 {
			return invalid("Port must be from 0 to 65535, not %d", cfg.Port)
		}
		host := cfg.Host
		if host == "" {
			host = "127.0.0.1"
		}
		chost := C.CString(host)
		defer C.free(unsafe.Pointer(chost))
		return ok(C.wsc_config_set_listener(config, chost, C.uint16_t(cfg.Port)))
	case sizeValue:
		if v.Int() < 0 {
			return invalid("%s must not be negative", row.field)
		}
		return ok(C.wscgo_size(f, config, C.size_t(v.Int())))
	case durationValue, durationOrOffValue:
		d := time.Duration(v.Int())
		switch {
		case d == Disabled && row.kind == durationOrOffValue:
			d = 0
		case d < 0:
			return invalid("%s must not be negative", row.field)
		}
		return ok(C.wscgo_ms(f, config, C.uint64_t(d.Milliseconds())))
	case boolValue:
		return ok(C.wscgo_bool(f, config, C.bool(v.Bool())))
	case stringValue:
		s := C.CString(v.String())
		defer C.free(unsafe.Pointer(s))
		return ok(C.wscgo_str(f, config, s))
	case addStringValue:
		for _, item := range v.Interface().([]string) {
			s := C.CString(item)
			err := ok(C.wscgo_str(f, config, s))
			C.free(unsafe.Pointer(s))
			if err != nil {
				return err
			}
		}
		return nil
	case enumValue:
		policy, known := slowConsumerPolicies[SlowConsumerPolicy(v.String())]
		if !known {
			return invalid("%s %q is not a policy", row.field, v.String())
		}
		return ok(C.wscgo_u32(f, config, policy))
	case pemValue:
		source, text := pem(v.String())
		s := C.CString(text)
		defer C.free(unsafe.Pointer(s))
		return ok(C.wscgo_pem(f, config, source, s))
	case pemPairValue:
		partner := reflect.ValueOf(cfg).Elem().FieldByName(row.partner).String()
		if partner == "" {
			return invalid("%s needs %s", row.field, row.partner)
		}
		if f == nil { // the pair is applied from its first member
			return nil
		}
		source, first := pem(v.String())
		partnerSource, second := pem(partner)
		if source != partnerSource {
			return invalid("%s and %s must both be PEM text or both be paths", row.field, row.partner)
		}
		a, b := C.CString(first), C.CString(second)
		defer C.free(unsafe.Pointer(a))
		defer C.free(unsafe.Pointer(b))
		return ok(C.wscgo_pem_pair(f, config, source, a, b))
	case pairsValue:
		pairs := v.Convert(reflect.TypeOf(map[string][]string{})).Interface().(map[string][]string)
		names := make([]string, 0, len(pairs))
		for name := range pairs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			for _, item := range pairs[name] {
				a, b := C.CString(name), C.CString(item)
				err := ok(C.wscgo_pair(f, config, a, b))
				C.free(unsafe.Pointer(a))
				C.free(unsafe.Pointer(b))
				if err != nil {
					return err
				}
			}
		}
		return nil
	case pathsValue:
		for _, path := range v.Interface().([]Path) {
			pattern := C.CString(path.Pattern)
			groups := cStrings(path.Groups)
			err := ok(C.wscgo_path(f, config, pattern, groups.ptr(), C.size_t(len(path.Groups))))
			groups.free()
			C.free(unsafe.Pointer(pattern))
			if err != nil {
				return err
			}
		}
		return nil
	}
	return row.applyNamed(config, v, ok)
}

// applyNamed makes the C calls of a setting set by its name (the generic setters) or of the
// reconnect policy.
func (row setting) applyNamed(config *C.wsc_config, v reflect.Value, ok func(C.wsc_result) error) error {
	name := C.CString(row.partner)
	defer C.free(unsafe.Pointer(name))
	switch row.kind {
	case namedStringValue:
		s := C.CString(v.String())
		defer C.free(unsafe.Pointer(s))
		return ok(C.wsc_config_set_string(config, name, s))
	case namedStringsValue:
		for _, item := range v.Interface().([]string) {
			s := C.CString(item)
			err := ok(C.wsc_config_add_string(config, name, s))
			C.free(unsafe.Pointer(s))
			if err != nil {
				return err
			}
		}
		return nil
	case namedIntValue:
		if v.Int() < 0 {
			return invalid("%s must not be negative", row.field)
		}
		return ok(C.wsc_config_set_int(config, name, C.uint64_t(v.Int())))
	case namedBoolValue, negatedBoolValue:
		return ok(C.wsc_config_set_bool(config, name, C.bool(v.Bool() == (row.kind == namedBoolValue))))
	case namedDurationOrOffValue:
		d := time.Duration(v.Int())
		switch {
		case d == Disabled:
			d = 0
		case d < 0:
			return invalid("%s must not be negative", row.field)
		}
		return ok(C.wsc_config_set_duration_ms(config, name, C.uint64_t(d.Milliseconds())))
	case reconnectValue:
		policy := v.Interface().(*Reconnect)
		return ok(policy.withPolicy(func(p *C.wsc_reconnect) C.wsc_result {
			return C.wsc_config_set_reconnect(config, p)
		}))
	}
	return invalid("%s has no value type", row.field)
}
