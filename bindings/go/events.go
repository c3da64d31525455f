package wsconnector

/*
#include <wsconnector.h>
*/
import "C"

import "time"

// Trigger says which of the four triggers, or which change of a reconnecting socket, an
// event is.
type Trigger int

// The triggers.
const (
	InboundConnection Trigger = C.WSC_TRIGGER_INBOUND_CONNECTION // a client finished the handshake
	InboundMessage    Trigger = C.WSC_TRIGGER_INBOUND_MESSAGE    // an inbound socket received a message
	OutboundMessage   Trigger = C.WSC_TRIGGER_OUTBOUND_MESSAGE   // an outbound socket received a message
	SocketClosed      Trigger = C.WSC_TRIGGER_SOCKET_CLOSED      // a socket closed (exactly once, last)
	// OutboundReconnecting: a reconnecting outbound socket's attempt Attempt starts after Delay;
	// Err says why its connection or previous attempt failed.
	OutboundReconnecting Trigger = C.WSC_TRIGGER_OUTBOUND_RECONNECTING
	// OutboundReconnected: it reconnected after Attempt attempts; its new messages follow.
	OutboundReconnected Trigger = C.WSC_TRIGGER_OUTBOUND_RECONNECTED
)

// Event is one trigger: the socket it is about, and its message or its close.
type Event struct {
	Trigger Trigger
	Socket  Socket
	Message Message       // InboundMessage and OutboundMessage
	Code    uint16        // SocketClosed: the close code (1005: none given, 1006: no close handshake)
	Reason  string        // SocketClosed: the close reason
	Attempt int           // OutboundReconnecting: the attempt (from 1); OutboundReconnected: how many
	Delay   time.Duration // OutboundReconnecting: the wait before the attempt
	Err     error         // OutboundReconnecting: why the connection or previous attempt failed
}

// pump takes the connector's events with the pull API and hands them to Events one at a time,
// so a slow receiver leaves them in the library's bounded queue. It ends, closing Events, when
// the connector has stopped and every event has been taken. A socket's fixed attributes are
// read once, with its first event; later events read only its groups.
func (c *Connector) pump() {
	defer close(c.pumped)
	defer close(c.events)
	known := map[string]Socket{}
	dropping := false
	for {
		var handle *C.wsc_event
		// The handle stays valid: it is freed only after this loop has ended.
		if C.wsc_connector_next_event(c.handle, -1, &handle) != C.WSC_OK {
			return // stopped, and every event taken
		}
		event := readEvent(handle, known)
		C.wsc_event_free(handle)
		if dropping {
			continue
		}
		select {
		case c.events <- event:
		case <-c.drop:
			dropping = true
		}
	}
}

func readEvent(handle *C.wsc_event, known map[string]Socket) Event {
	var trigger C.wsc_trigger
	C.wsc_event_trigger(handle, &trigger)
	var sock *C.wsc_socket
	C.wsc_event_socket(handle, &sock)
	var id C.wsc_str
	C.wsc_socket_id(sock, &id)
	socket, ok := known[goString(id)]
	if ok {
		socket.Groups = readGroups(sock)
		socket.State, socket.LastError = readStatus(sock)
	} else {
		socket = readSocket(sock)
		known[socket.ID] = socket
	}
	event := Event{Trigger: Trigger(trigger), Socket: socket}
	switch event.Trigger {
	case InboundMessage, OutboundMessage:
		var kind C.wsc_message_kind
		var payload C.wsc_bytes
		C.wsc_event_message(handle, &kind, &payload)
		event.Message = Message{Data: goBytes(payload), Text: kind == C.WSC_TEXT}
	case SocketClosed:
		var code C.uint16_t
		var reason C.wsc_str
		C.wsc_event_close(handle, &code, &reason)
		event.Code, event.Reason = uint16(code), goString(reason)
		delete(known, socket.ID)
	case OutboundReconnecting, OutboundReconnected:
		var attempt C.uint32_t
		var delay C.uint64_t
		var code C.wsc_result
		var message C.wsc_str
		C.wsc_event_reconnect(handle, &attempt, &delay, &code, &message)
		event.Attempt, event.Delay = int(attempt), time.Duration(delay)*time.Millisecond
		if code != C.WSC_OK {
			event.Err = &Error{Kind: Kind(code), Message: goString(message)}
		}
	}
	return event
}
