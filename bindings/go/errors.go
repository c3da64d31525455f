package wsconnector

/*
#include <wsconnector.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Kind is an error kind of the library, the C API's wsc_result code. Each kind is also an
// error value to compare with errors.Is, as with syscall.Errno:
//
//	if errors.Is(err, wsconnector.ErrNoSuchSocket) { ... }
type Kind uint32

// The error kinds (codes 1-19 are the core's kinds; 100 and up the C API's own).
const (
	ErrInvalidArgument     Kind = 1   // an argument or setting was malformed (the message names it)
	ErrNoSuchSocket        Kind = 2   // no open socket has the given ID
	ErrInvalidSocketID     Kind = 3   // a caller-chosen socket ID is empty, blank or too long
	ErrNonUniqueSocketID   Kind = 4   // a caller-chosen socket ID is already used by an open socket
	ErrConnectivity        Kind = 5   // the TCP connection could not be made or broke
	ErrDNS                 Kind = 6   // a host name did not resolve
	ErrTLS                 Kind = 7   // TLS failed: certificate, PEM or handshake
	ErrHandshake           Kind = 8   // the peer answered the upgrade with a status other than 101
	ErrTimeout             Kind = 9   // a connect, handshake or stop did not finish in time
	ErrRemotelyClosed      Kind = 10  // the peer closed (or is closing) the socket
	ErrLimitExceeded       Kind = 11  // a configured limit was reached
	ErrQueueFull           Kind = 12  // the socket's send queue is full under the fail policy
	ErrInvalidState        Kind = 13  // not allowed in the current state
	ErrStopped             Kind = 14  // the connector is stopped or stopping
	ErrProtocol            Kind = 15  // the peer broke the WebSocket protocol
	ErrInternal            Kind = 16  // a bug inside the library (a caught panic)
	ErrRetryExhausted      Kind = 17  // an outbound socket's reconnect attempts ran out; it closed
	ErrBasicAuthentication Kind = 18  // the server refused the handshake's basic authentication
	ErrReconnecting        Kind = 19  // the outbound socket is reconnecting; its policy fails sends
	ErrPanic               Kind = 103 // a panic caught at the C boundary (a bug in the library)
)

// Error returns the kind's name in the C API ("no_such_socket").
func (k Kind) Error() string { return C.GoString(C.wsc_result_name(C.uint32_t(k))) }

// Error is a failed call: its kind, the library's message, and for ErrHandshake and ErrBasicAuthentication the HTTP status.
type Error struct {
	Kind       Kind
	Message    string
	HTTPStatus int // the status of a refused handshake, else 0
}

func (e *Error) Error() string { return fmt.Sprintf("wsconnector: %s: %s", e.Kind.Error(), e.Message) }

// Is makes errors.Is(err, ErrNoSuchSocket) (any Kind) true for an Error of that kind.
func (e *Error) Is(target error) bool {
	kind, ok := target.(Kind)
	return ok && kind == e.Kind
}

// errorOf is the Error for a failed call, read on the thread that made it (see call).
func errorOf(result C.wsc_result) *Error {
	var buf [512]C.char
	var n C.size_t
	message := ""
	switch C.wsc_last_error(&buf[0], C.size_t(len(buf)), &n) {
	case C.WSC_OK:
		message = C.GoStringN(&buf[0], C.int(n))
	case C.WSC_BUFFER_TOO_SMALL:
		long := make([]byte, int(n)+1)
		if C.wsc_last_error((*C.char)(unsafe.Pointer(&long[0])), C.size_t(len(long)), &n) == C.WSC_OK {
			message = string(long[:n])
		}
	}
	return &Error{Kind: Kind(result), Message: message, HTTPStatus: int(C.wsc_last_error_http_status())}
}

// stoppedError is the error of an operation on a connector that is stopped and freed.
func stoppedError() error { return &Error{Kind: ErrStopped, Message: "the connector is stopped"} }
