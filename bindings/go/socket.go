package wsconnector

/*
#include <wsconnector.h>
*/
import "C"

import "strings"

// SocketType says which side opened a socket.
type SocketType int

// The socket types; AnySocket in a Filter matches both.
const (
	AnySocket SocketType = 0
	Inbound   SocketType = C.WSC_INBOUND  // accepted by the listener
	Outbound  SocketType = C.WSC_OUTBOUND // opened by this connector
)

// Pair is a name and a value (a header, a query parameter), in the order the handshake had.
type Pair struct{ Name, Value string }

// Socket is a socket's attributes as of the event (or lookup) it came with. Its slices are
// shared between events of the same socket: read them, do not change them.
type Socket struct {
	ID                     string
	Type                   SocketType
	Path                   string // full path (base path included), without the query
	URI                    string
	Scheme                 string // "ws" or "wss"
	Subprotocol            string // "" when none was negotiated
	Extensions             string // negotiated, e.g. "permessage-deflate"; "" when none
	Headers                []Pair // of the handshake (outbound: those sent)
	Query                  []Pair // decoded
	LocalAddr              string // "127.0.0.1:8080"
	RemoteAddr             string
	PeerCertificate        []byte // DER; nil without TLS or when the peer presented none
	PeerCertificateSubject string // RFC 4514 text; "" when there is no certificate
	Groups                 []string
	State                  SocketState // when the event was read
	LastError              error       // why its last connection or attempt failed; nil when up
}

// SocketState is where a socket stands.
type SocketState int

// The states of a socket.
const (
	StateConnected    SocketState = C.WSC_SOCKET_CONNECTED    // its connection is up
	StateReconnecting SocketState = C.WSC_SOCKET_RECONNECTING // waiting for, or making, an attempt
	StateDisconnected SocketState = C.WSC_SOCKET_DISCONNECTED // lazy mode: reconnects at the next send
	StateClosed       SocketState = C.WSC_SOCKET_CLOSED       // it has closed
)

// readStatus is a socket's state and last error (ErrRetryExhausted once its attempts ran out).
func readStatus(h *C.wsc_socket) (SocketState, error) {
	var state C.wsc_socket_state
	C.wsc_socket_get_state(h, &state)
	var code C.wsc_result
	var message C.wsc_str
	C.wsc_socket_last_error(h, &code, &message)
	if code == C.WSC_OK {
		return SocketState(state), nil
	}
	return SocketState(state), &Error{Kind: Kind(code), Message: goString(message)}
}

// Header is the first handshake header called name (case-insensitive), or "".
func (s *Socket) Header(name string) string {
	for _, h := range s.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// QueryParam is the first query parameter called name, or "".
func (s *Socket) QueryParam(name string) string {
	for _, q := range s.Query {
		if q.Name == name {
			return q.Value
		}
	}
	return ""
}

// readSocket reads every attribute of a socket handle (the getters cannot fail on a valid one).
func readSocket(h *C.wsc_socket) Socket {
	var s C.wsc_str
	str := func(get func(*C.wsc_socket, *C.wsc_str) C.wsc_result) string {
		s = C.wsc_str{}
		get(h, &s)
		return goString(s)
	}
	var kind C.wsc_socket_type
	C.wsc_socket_get_type(h, &kind)
	var certificate C.wsc_bytes
	C.wsc_socket_peer_certificate(h, &certificate)
	state, lastError := readStatus(h)
	return Socket{
		ID:                     str(func(h *C.wsc_socket, s *C.wsc_str) C.wsc_result { return C.wsc_socket_id(h, s) }),
		Type:                   SocketType(kind),
		Path:                   str(func(h *C.wsc_socket, s *C.wsc_str) C.wsc_result { return C.wsc_socket_path(h, s) }),
		URI:                    str(func(h *C.wsc_socket, s *C.wsc_str) C.wsc_result { return C.wsc_socket_uri(h, s) }),
		Scheme:                 str(func(h *C.wsc_socket, s *C.wsc_str) C.wsc_result { return C.wsc_socket_scheme(h, s) }),
		Subprotocol:            str(func(h *C.wsc_socket, s *C.wsc_str) C.wsc_result { return C.wsc_socket_subprotocol(h, s) }),
		Extensions:             str(func(h *C.wsc_socket, s *C.wsc_str) C.wsc_result { return C.wsc_socket_extensions(h, s) }),
		Headers:                readPairs(h, true),
		Query:                  readPairs(h, false),
		LocalAddr:              readAddr(h, true),
		RemoteAddr:             readAddr(h, false),
		PeerCertificate:        goBytes(certificate),
		PeerCertificateSubject: str(func(h *C.wsc_socket, s *C.wsc_str) C.wsc_result { return C.wsc_socket_peer_certificate_subject(h, s) }),
		Groups:                 readGroups(h),
		State:                  state,
		LastError:              lastError,
	}
}

func readPairs(h *C.wsc_socket, headers bool) []Pair {
	var n C.size_t
	if headers {
		C.wsc_socket_header_count(h, &n)
	} else {
		C.wsc_socket_query_count(h, &n)
	}
	pairs := make([]Pair, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		var name, value C.wsc_str
		if headers {
			C.wsc_socket_header_at(h, i, &name, &value)
		} else {
			C.wsc_socket_query_at(h, i, &name, &value)
		}
		pairs = append(pairs, Pair{goString(name), goString(value)})
	}
	return pairs
}

func readAddr(h *C.wsc_socket, local bool) string {
	var buf [64]C.char
	var n C.size_t
	var result C.wsc_result
	if local {
		result = C.wsc_socket_local_addr(h, &buf[0], C.size_t(len(buf)), &n)
	} else {
		result = C.wsc_socket_remote_addr(h, &buf[0], C.size_t(len(buf)), &n)
	}
	if result != C.WSC_OK {
		return ""
	}
	return C.GoStringN(&buf[0], C.int(n))
}

func readGroups(h *C.wsc_socket) []string {
	var n C.size_t
	C.wsc_socket_group_count(h, &n)
	groups := make([]string, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		var group C.wsc_str
		C.wsc_socket_group_at(h, i, &group)
		groups = append(groups, goString(group))
	}
	return groups
}
