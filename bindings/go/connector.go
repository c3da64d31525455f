// Package wsconnector is the wsconnector library (an embeddable WebSocket connector: an
// inbound listener and outbound sockets, socket IDs, groups, broadcast) for Go, over its C ABI
// with cgo. It links the library through pkg-config (`wsconnector.pc`).
//
// Events come from a channel, Connector.Events, fed by the C API's pull mode on a goroutine of
// the connector; every operation is a method that returns an error whose kind errors.Is tells
// (ErrNoSuchSocket, ErrHandshake, ...). All methods are safe for concurrent use.
package wsconnector

/*
#include <stdlib.h>
#include <wsconnector.h>
*/
import "C"

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"
	"unsafe"
)

// Connector is a running connector. Make one with New; end it with Stop or Close.
type Connector struct {
	// mu guards handle: operations hold it for reading, the free for writing, so no call
	// uses the handle during or after wsc_connector_free.
	mu     sync.RWMutex
	handle *C.wsc_connector

	events   chan Event
	drop     chan struct{} // closed when undelivered events are to be dropped
	pumped   chan struct{} // closed when the pump has taken the last event
	freed    chan struct{} // closed when the C connector is stopped and freed
	stopOnce sync.Once
	dropOnce sync.Once
	stopErr  error
}

// New starts a connector from cfg: its listener (if any) and its threads. Receive its events
// from Events until that channel is closed.
func New(cfg Config) (*Connector, error) {
	var handle *C.wsc_connector
	var invalid error
	err := call(func() C.wsc_result {
		config, err := cfg.build()
		if err != nil {
			invalid = err
			return C.WSC_OK
		}
		return C.wsc_connector_start(config, &handle)
	})
	if invalid != nil {
		return nil, invalid
	}
	if err != nil {
		return nil, err
	}
	c := &Connector{
		handle: handle,
		events: make(chan Event),
		drop:   make(chan struct{}),
		pumped: make(chan struct{}),
		freed:  make(chan struct{}),
	}
	go c.pump()
	return c, nil
}

// Events delivers the connector's events in order for each socket; it is closed after the
// last one, once the connector has stopped. Until an event is received the connector holds
// it, and once its event queue is full (EventQueueCapacity, EventQueueBytes) sockets stop
// reading: a slow receiver slows the peers down instead of growing memory.
func (c *Connector) Events() <-chan Event { return c.events }

// Stop stops the connector: stops accepting, closes every socket with 1001, waits up to the
// stop timeout for queued sends and close handshakes, and then until every remaining event
// (each socket's SocketClosed included) has been received from Events — or until ctx is done,
// when the rest are dropped and ctx's error is returned. Then it frees the connector. Calls
// after it fail with ErrStopped. Safe to call more than once and from several goroutines.
func (c *Connector) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() { go c.stopAndFree() })
	select {
	case <-c.freed:
		return c.stopErr
	case <-ctx.Done():
		c.dropOnce.Do(func() { close(c.drop) })
		<-c.freed
		return ctx.Err()
	}
}

// Close stops the connector like Stop, dropping the events nobody has received.
func (c *Connector) Close() error {
	c.stopOnce.Do(func() { go c.stopAndFree() })
	c.dropOnce.Do(func() { close(c.drop) })
	<-c.freed
	return c.stopErr
}

func (c *Connector) stopAndFree() {
	err := call(func() C.wsc_result { return C.wsc_connector_stop(c.handle) })
	<-c.pumped
	c.mu.Lock()
	C.wsc_connector_free(c.handle)
	c.handle = nil
	c.mu.Unlock()
	c.stopErr = err
	close(c.freed)
}

// with runs f with the connector's handle, or fails with ErrStopped once it is freed.
func (c *Connector) with(f func(h *C.wsc_connector) C.wsc_result) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.handle == nil {
		return stoppedError()
	}
	return call(func() C.wsc_result { return f(c.handle) })
}

// Port is the listener's port (the OS's choice when 0 was configured), or 0 without a listener.
func (c *Connector) Port() int {
	var port C.uint16_t
	if c.with(func(h *C.wsc_connector) C.wsc_result { return C.wsc_connector_local_port(h, &port) }) != nil {
		return 0
	}
	return int(port)
}

// OutboundOptions are the options of OpenOutbound; the zero value is none.
type OutboundOptions struct {
	Headers      http.Header       // besides the connector's DefaultHeaders
	Query        url.Values        // added to the URL, besides DefaultQuery
	Subprotocols []string          // offered, in order of preference
	Groups       []string          // the socket starts in these
	SocketID     string            // the socket's ID (else a random UUID)
	Timeout      time.Duration     // connect timeout (else ConnectTimeout, or ctx's deadline if sooner)
	URIParams    map[string]string // values of the URL's (or path's) {name} templates
	// Reconnect: the socket's policy (else Config.Reconnect decides); NoReconnect: none at all.
	Reconnect   *Reconnect
	NoReconnect bool
	// Compression offers permessage-deflate (true) or not (false) whatever Config.Compression
	// says; nil follows it.
	Compression *bool
}

// OpenOutbound connects to a ws:// or wss:// URL and returns the new socket's ID. ctx's
// deadline bounds the connect; if ctx is cancelled first, OpenOutbound returns ctx's error and
// a socket that opens afterwards is closed at once (1001).
func (c *Connector) OpenOutbound(ctx context.Context, rawURL string, opts OutboundOptions) (string, error) {
	timeout := opts.Timeout
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		if left <= 0 {
			return "", ctx.Err()
		}
		if timeout == 0 || left < timeout {
			timeout = left
		}
	}
	type outcome struct {
		id  string
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		id, err := c.openOutbound(rawURL, opts, timeout)
		done <- outcome{id, err}
	}()
	select {
	case o := <-done:
		return o.id, o.err
	case <-ctx.Done():
		go func() {
			if o := <-done; o.err == nil {
				_ = c.CloseSocket(o.id, 1001, "abandoned")
			}
		}()
		return "", ctx.Err()
	}
}

func (c *Connector) openOutbound(rawURL string, opts OutboundOptions, timeout time.Duration) (string, error) {
	var options *C.wsc_outbound_options
	if result := C.wsc_outbound_options_new(&options); result != C.WSC_OK {
		return "", errorOf(result)
	}
	defer C.wsc_outbound_options_free(options)
	var strs []*C.char
	defer func() {
		for _, s := range strs {
			C.free(unsafe.Pointer(s))
		}
	}()
	cs := func(s string) *C.char {
		p := C.CString(s)
		strs = append(strs, p)
		return p
	}
	for _, name := range sortedKeys(opts.Headers) {
		for _, value := range opts.Headers[name] {
			C.wsc_outbound_options_add_header(options, cs(name), cs(value))
		}
	}
	for _, name := range sortedKeys(opts.Query) {
		for _, value := range opts.Query[name] {
			C.wsc_outbound_options_add_query(options, cs(name), cs(value))
		}
	}
	for _, protocol := range opts.Subprotocols {
		C.wsc_outbound_options_add_subprotocol(options, cs(protocol))
	}
	for _, group := range opts.Groups {
		C.wsc_outbound_options_add_group(options, cs(group))
	}
	if opts.SocketID != "" {
		C.wsc_outbound_options_set_socket_id(options, cs(opts.SocketID))
	}
	if opts.Compression != nil {
		C.wsc_outbound_options_set_compression(options, C.bool(*opts.Compression))
	}
	if timeout > 0 {
		ms := timeout.Milliseconds()
		if ms == 0 {
			ms = 1
		}
		C.wsc_outbound_options_set_connect_timeout_ms(options, C.uint64_t(ms))
	}
	for _, name := range sortedNames(opts.URIParams) {
		C.wsc_outbound_options_add_uri_param(options, cs(name), cs(opts.URIParams[name]))
	}
	switch {
	case opts.NoReconnect:
		C.wsc_outbound_options_set_reconnect(options, nil)
	case opts.Reconnect != nil:
		if err := call(func() C.wsc_result {
			return opts.Reconnect.withPolicy(func(policy *C.wsc_reconnect) C.wsc_result {
				return C.wsc_outbound_options_set_reconnect(options, policy)
			})
		}); err != nil {
			return "", err
		}
	}
	var id [C.WSC_SOCKET_ID_SIZE]C.char
	err := c.with(func(h *C.wsc_connector) C.wsc_result {
		return C.wsc_connector_open_outbound(h, cs(rawURL), options, &id[0], C.size_t(len(id)))
	})
	if err != nil {
		return "", err
	}
	return C.GoString(&id[0]), nil
}

func sortedNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Message is a message to send: text (UTF-8) or binary.
type Message struct {
	Data []byte
	Text bool
}

// Text is a text message.
func Text(s string) Message { return Message{Data: []byte(s), Text: true} }

// Binary is a binary message.
func Binary(b []byte) Message { return Message{Data: b} }

func (m Message) kind() C.uint32_t {
	if m.Text {
		return C.WSC_TEXT
	}
	return C.WSC_BINARY
}

// Send queues a message for a socket. It reports false when the slow-consumer policy dropped
// the message or closed the socket instead (ErrQueueFull under the fail policy).
func (c *Connector) Send(socketID string, m Message) (bool, error) {
	id := C.CString(socketID)
	defer C.free(unsafe.Pointer(id))
	var delivery C.wsc_delivery
	err := c.with(func(h *C.wsc_connector) C.wsc_result {
		return C.wsc_connector_send(h, id, m.kind(), cBytes(m.Data), C.size_t(len(m.Data)), &delivery, nil)
	})
	if err != nil {
		return false, err
	}
	return delivery == C.WSC_DELIVERY_QUEUED || delivery == C.WSC_DELIVERY_QUEUED_DROPPING_OLDEST ||
		delivery == C.WSC_DELIVERY_BUFFERED, nil
}

// Subscribe adds groups to a socket; groups it has already are ignored.
func (c *Connector) Subscribe(socketID string, groups ...string) error {
	return c.groups(socketID, groups, true)
}

// Unsubscribe removes groups from a socket; groups it does not have are ignored.
func (c *Connector) Unsubscribe(socketID string, groups ...string) error {
	return c.groups(socketID, groups, false)
}

func (c *Connector) groups(socketID string, groups []string, subscribe bool) error {
	id := C.CString(socketID)
	defer C.free(unsafe.Pointer(id))
	array := cStrings(groups)
	defer array.free()
	return c.with(func(h *C.wsc_connector) C.wsc_result {
		if subscribe {
			return C.wsc_connector_subscribe(h, id, array.ptr(), C.size_t(len(groups)))
		}
		return C.wsc_connector_unsubscribe(h, id, array.ptr(), C.size_t(len(groups)))
	})
}

// Filter chooses sockets by full path (exact or `*` pattern), type and groups (member of
// any), combined with AND; the zero Filter matches every socket.
type Filter struct {
	Path string
	Type SocketType
	// Groups: member of any of them.
	Groups []string
	// AllGroups: member of every one of them.
	AllGroups []string
	// ExceptSocketIDs: sockets left out by ID ("the room but not the sender").
	ExceptSocketIDs []string
	// ExceptGroups: sockets in any of them are left out.
	ExceptGroups []string
}

// withFilter runs f with a wsc_filter made from the filter.
func (c *Connector) withFilter(filter Filter, f func(h *C.wsc_connector, filter *C.wsc_filter) C.wsc_result) error {
	var handle *C.wsc_filter
	if result := C.wsc_filter_new(&handle); result != C.WSC_OK {
		return errorOf(result)
	}
	defer C.wsc_filter_free(handle)
	return c.with(func(h *C.wsc_connector) C.wsc_result {
		if filter.Path != "" {
			path := C.CString(filter.Path)
			result := C.wsc_filter_set_path(handle, path)
			C.free(unsafe.Pointer(path))
			if result != C.WSC_OK {
				return result
			}
		}
		if filter.Type != AnySocket {
			if result := C.wsc_filter_set_type(handle, C.uint32_t(filter.Type)); result != C.WSC_OK {
				return result
			}
		}
		parts := []struct {
			items []string
			add   func(*C.wsc_filter, *C.char) C.wsc_result
		}{
			{filter.Groups, func(f *C.wsc_filter, s *C.char) C.wsc_result { return C.wsc_filter_add_group(f, s) }},
			{filter.AllGroups, func(f *C.wsc_filter, s *C.char) C.wsc_result { return C.wsc_filter_require_group(f, s) }},
			{filter.ExceptSocketIDs, func(f *C.wsc_filter, s *C.char) C.wsc_result { return C.wsc_filter_except_socket_id(f, s) }},
			{filter.ExceptGroups, func(f *C.wsc_filter, s *C.char) C.wsc_result { return C.wsc_filter_except_group(f, s) }},
		}
		for _, part := range parts {
			for _, item := range part.items {
				s := C.CString(item)
				result := part.add(handle, s)
				C.free(unsafe.Pointer(s))
				if result != C.WSC_OK {
					return result
				}
			}
		}
		return f(h, handle)
	})
}

// Undelivered says why a matching socket did not get a broadcast.
type Undelivered int

// The reasons a broadcast missed a socket.
const (
	Dropped Undelivered = C.WSC_UNDELIVERED_DROPPED // its queue was full: drop-newest dropped it
	Closed  Undelivered = C.WSC_UNDELIVERED_CLOSED  // its queue was full: the close policy closed it
	Failed  Undelivered = C.WSC_UNDELIVERED_FAILED  // the send failed (Err says why)
)

// BroadcastFailure is a matching socket that did not get a broadcast.
type BroadcastFailure struct {
	SocketID string
	Reason   Undelivered
	Err      error // for Failed
}

// BroadcastReport is what a broadcast did.
type BroadcastReport struct {
	Delivered     int // sockets the message was queued for
	DroppedOldest int // older queued messages the drop-oldest policy discarded
	Buffered      int // of Delivered, reconnecting sockets' (they get it once reconnected)
	Failures      []BroadcastFailure
}

// Broadcast sends one message to every socket that matches the filter.
func (c *Connector) Broadcast(m Message, filter Filter) (BroadcastReport, error) {
	var result *C.wsc_broadcast_result
	err := c.withFilter(filter, func(h *C.wsc_connector, f *C.wsc_filter) C.wsc_result {
		return C.wsc_connector_broadcast(h, f, m.kind(), cBytes(m.Data), C.size_t(len(m.Data)), &result)
	})
	if err != nil {
		return BroadcastReport{}, err
	}
	defer C.wsc_broadcast_result_free(result)
	var delivered, dropped, buffered, failures C.size_t
	C.wsc_broadcast_result_delivered(result, &delivered)
	C.wsc_broadcast_result_dropped_oldest(result, &dropped)
	C.wsc_broadcast_result_buffered(result, &buffered)
	C.wsc_broadcast_result_failure_count(result, &failures)
	report := BroadcastReport{Delivered: int(delivered), DroppedOldest: int(dropped), Buffered: int(buffered)}
	for i := C.size_t(0); i < failures; i++ {
		var id C.wsc_str
		var what C.wsc_undelivered
		var code C.wsc_result
		C.wsc_broadcast_result_failure_at(result, i, &id, &what, &code)
		failure := BroadcastFailure{SocketID: goString(id), Reason: Undelivered(what)}
		if code != C.WSC_OK {
			failure.Err = &Error{Kind: Kind(code), Message: Kind(code).Error()}
		}
		report.Failures = append(report.Failures, failure)
	}
	return report, nil
}

// CloseSocket closes one socket with a close code (1000-4999) and a reason.
func (c *Connector) CloseSocket(socketID string, code uint16, reason string) error {
	id, why := C.CString(socketID), C.CString(reason)
	defer C.free(unsafe.Pointer(id))
	defer C.free(unsafe.Pointer(why))
	return c.with(func(h *C.wsc_connector) C.wsc_result {
		return C.wsc_connector_close(h, id, C.uint16_t(code), why)
	})
}

// BulkClose closes every socket that matches the filter; it returns how many began to close.
func (c *Connector) BulkClose(filter Filter, code uint16, reason string) (int, error) {
	why := C.CString(reason)
	defer C.free(unsafe.Pointer(why))
	var count C.size_t
	err := c.withFilter(filter, func(h *C.wsc_connector, f *C.wsc_filter) C.wsc_result {
		return C.wsc_connector_bulk_close(h, f, C.uint16_t(code), why, &count)
	})
	return int(count), err
}

// Socket looks up the open socket with this ID (ErrNoSuchSocket when there is none).
func (c *Connector) Socket(socketID string) (Socket, error) {
	id := C.CString(socketID)
	defer C.free(unsafe.Pointer(id))
	var handle *C.wsc_socket
	if err := c.with(func(h *C.wsc_connector) C.wsc_result {
		return C.wsc_connector_socket(h, id, &handle)
	}); err != nil {
		return Socket{}, err
	}
	defer C.wsc_socket_free(handle)
	return readSocket(handle), nil
}

// Sockets lists the open sockets that match the filter.
func (c *Connector) Sockets(filter Filter) ([]Socket, error) {
	var list *C.wsc_socket_list
	if err := c.withFilter(filter, func(h *C.wsc_connector, f *C.wsc_filter) C.wsc_result {
		return C.wsc_connector_sockets(h, f, &list)
	}); err != nil {
		return nil, err
	}
	defer C.wsc_socket_list_free(list)
	var n C.size_t
	C.wsc_socket_list_len(list, &n)
	sockets := make([]Socket, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		var handle *C.wsc_socket
		C.wsc_socket_list_get(list, i, &handle)
		sockets = append(sockets, readSocket(handle))
	}
	return sockets, nil
}
