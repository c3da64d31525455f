package wsconnector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Every Config field has its row in the settings table, and every row names a field.
func TestEverySettingHasARow(t *testing.T) {
	rows := map[string]bool{}
	typ := reflect.TypeOf(Config{})
	for _, row := range settings {
		if _, ok := typ.FieldByName(row.field); !ok {
			t.Errorf("row %s names no Config field", row.field)
		}
		rows[row.field] = true
	}
	for alias, field := range aliases {
		if _, ok := typ.FieldByName(alias); !ok || !rows[field] {
			t.Errorf("alias %s names no Config field or no row (%s)", alias, field)
		}
		rows[alias] = true
	}
	for i := 0; i < typ.NumField(); i++ {
		if !rows[typ.Field(i).Name] {
			t.Errorf("Config.%s has no row in the settings table", typ.Field(i).Name)
		}
	}
}

// Outbound sockets against the binding's own listener: options, messages both ways, groups,
// broadcast with filters, close, bulk close, lookups.
func TestOperations(t *testing.T) {
	server := started(t, Config{Host: "127.0.0.1", Paths: []Path{{Pattern: "/feed/*", Groups: []string{"feeds"}}},
		Subprotocols: []string{"quotes.v2"}, PingInterval: Disabled})
	client := started(t, Config{DefaultHeaders: http.Header{"X-Default": {"d"}}})
	base := fmt.Sprintf("ws://127.0.0.1:%d", server.Port())
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	id, err := client.OpenOutbound(ctx, base+"/feed/a", OutboundOptions{
		Headers: http.Header{"Authorization": {"Bearer t"}}, Query: url.Values{"symbol": {"AAPL"}},
		Subprotocols: []string{"quotes.v2"}, Groups: []string{"sources"}, SocketID: "quotes",
	})
	if err != nil || id != "quotes" {
		t.Fatalf("open: %q %v", id, err)
	}
	in := next(t, server, InboundConnection).Socket
	if in.Path != "/feed/a" || in.QueryParam("symbol") != "AAPL" || in.Header("authorization") != "Bearer t" ||
		in.Header("x-default") != "d" || in.Subprotocol != "quotes.v2" || !reflect.DeepEqual(in.Groups, []string{"feeds"}) {
		t.Fatalf("inbound socket %+v", in)
	}
	out, err := client.Socket("quotes")
	if err != nil || out.Type != Outbound || !reflect.DeepEqual(out.Groups, []string{"sources"}) || out.Scheme != "ws" {
		t.Fatalf("outbound socket %+v %v", out, err)
	}

	if ok, err := client.Send("quotes", Text("subscribe AAPL")); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if event := next(t, server, InboundMessage); string(event.Message.Data) != "subscribe AAPL" || !event.Message.Text {
		t.Fatalf("%+v", event)
	}
	if _, err := server.Send(in.ID, Binary([]byte{1, 2, 3})); err != nil {
		t.Fatal(err)
	}
	if event := next(t, client, OutboundMessage); !reflect.DeepEqual(event.Message, Binary([]byte{1, 2, 3})) {
		t.Fatalf("%+v", event)
	}

	if err := server.Subscribe(in.ID, "vip", "vip"); err != nil {
		t.Fatal(err)
	}
	if err := server.Unsubscribe(in.ID, "feeds", "never-joined"); err != nil {
		t.Fatal(err)
	}
	if s, _ := server.Socket(in.ID); !reflect.DeepEqual(s.Groups, []string{"vip"}) {
		t.Fatalf("groups %v", s.Groups)
	}
	report, err := server.Broadcast(Text("to vips"), Filter{Path: "/feed/*", Type: Inbound, Groups: []string{"vip"}})
	if err != nil || report.Delivered != 1 || len(report.Failures) != 0 {
		t.Fatalf("%+v %v", report, err)
	}
	if event := next(t, client, OutboundMessage); string(event.Message.Data) != "to vips" {
		t.Fatalf("%+v", event)
	}
	if report, err := server.Broadcast(Text("not you"), Filter{Groups: []string{"vip"}, ExceptSocketIDs: []string{in.ID}}); err != nil || report.Delivered != 0 {
		t.Fatalf("%+v %v", report, err)
	}
	if report, err := server.Broadcast(Text("vip only"), Filter{AllGroups: []string{"vip"}, ExceptGroups: []string{"muted"}}); err != nil || report.Delivered != 1 {
		t.Fatalf("%+v %v", report, err)
	}
	if event := next(t, client, OutboundMessage); string(event.Message.Data) != "vip only" {
		t.Fatalf("%+v", event)
	}
	if _, err := server.Broadcast(Text("x"), Filter{ExceptSocketIDs: []string{""}}); err == nil {
		t.Fatal("an empty socket ID is refused")
	}
	if report, _ := server.Broadcast(Text("nobody"), Filter{Type: Outbound}); report.Delivered != 0 {
		t.Fatalf("%+v", report)
	}
	if sockets, _ := client.Sockets(Filter{Type: Outbound}); len(sockets) != 1 || sockets[0].ID != "quotes" {
		t.Fatalf("%+v", sockets)
	}

	if err := client.CloseSocket("quotes", 4000, "done"); err != nil {
		t.Fatal(err)
	}
	if closed := next(t, server, SocketClosed); closed.Code != 4000 || closed.Reason != "done" || closed.Socket.ID != in.ID {
		t.Fatalf("%+v", closed)
	}
	next(t, client, SocketClosed)

	for i := 0; i < 3; i++ {
		if _, err := client.OpenOutbound(ctx, base+"/feed/b", OutboundOptions{}); err != nil {
			t.Fatal(err)
		}
		next(t, server, InboundConnection)
	}
	if n, err := server.BulkClose(Filter{Groups: []string{"feeds"}}, 4001, "bye"); n != 3 || err != nil {
		t.Fatal(n, err)
	}
	for i := 0; i < 3; i++ {
		if closed := next(t, client, SocketClosed); closed.Code != 4001 {
			t.Fatalf("%+v", closed)
		}
	}
}

// Errors work with errors.Is per kind, and carry the message and the HTTP status.
func TestErrors(t *testing.T) {
	if _, err := New(Config{MaxHandshakeBytes: 1, Host: "127.0.0.1"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("setting: %v", err)
	}
	if _, err := New(Config{TLSCert: "-----BEGIN CERTIFICATE-----"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("pair: %v", err)
	}
	if _, err := New(Config{SlowConsumer: "later"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("policy: %v", err)
	}
	if _, err := New(Config{BasePath: "/ws"}); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("no listener: %v", err)
	}
	if _, err := New(Config{Host: "127.0.0.1", TLSCert: "/nonexistent/missing.pem", TLSKey: "/nonexistent/k.pem"}); !errors.Is(err, ErrTLS) {
		t.Fatalf("tls: %v", err)
	}
	c := started(t, Config{Host: "127.0.0.1", Paths: []Path{{Pattern: "/served"}}, SendQueueBytes: 1 << 20})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := c.Send("nobody", Text("hi"))
	var wsErr *Error
	if !errors.Is(err, ErrNoSuchSocket) || !errors.As(err, &wsErr) || wsErr.Message == "" || errors.Is(err, ErrStopped) {
		t.Fatalf("send: %v", err)
	}
	served := fmt.Sprintf("ws://127.0.0.1:%d/served", c.Port())
	if _, err := c.OpenOutbound(ctx, served, OutboundOptions{SocketID: " "}); !errors.Is(err, ErrInvalidSocketID) {
		t.Fatalf("id: %v", err)
	}
	if _, err := c.OpenOutbound(ctx, served, OutboundOptions{SocketID: "taken"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenOutbound(ctx, served, OutboundOptions{SocketID: "taken"}); !errors.Is(err, ErrNonUniqueSocketID) {
		t.Fatalf("unique: %v", err)
	}
	if _, err := c.Send("taken", Binary(make([]byte, 1<<20+1))); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("limit: %v", err)
	}
	if err := c.CloseSocket("taken", 999, ""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("code: %v", err)
	}
	_, err = c.OpenOutbound(ctx, fmt.Sprintf("ws://127.0.0.1:%d/other", c.Port()), OutboundOptions{})
	if !errors.Is(err, ErrHandshake) || !errors.As(err, &wsErr) || wsErr.HTTPStatus != 404 {
		t.Fatalf("handshake: %v", err)
	}
	if _, err := c.OpenOutbound(ctx, "ws://no-such-host.invalid/", OutboundOptions{}); !errors.Is(err, ErrDNS) {
		t.Fatalf("dns: %v", err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "ws://" + closed.Addr().String() + "/"
	closed.Close()
	if _, err := c.OpenOutbound(ctx, closedURL, OutboundOptions{}); !errors.Is(err, ErrConnectivity) {
		t.Fatalf("connectivity: %v", err)
	}
	// A server that accepts and never answers: the context's deadline bounds the connect.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	if _, err := c.OpenOutbound(short, "ws://"+silent.Addr().String()+"/", OutboundOptions{}); !errors.Is(err, ErrTimeout) &&
		!errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v", err)
	}
	cancelled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	if _, err := c.OpenOutbound(cancelled, served, OutboundOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send("taken", Text("late")); !errors.Is(err, ErrStopped) {
		t.Fatalf("stopped: %v", err)
	}
	if c.Port() != 0 {
		t.Fatal("a stopped connector has a port")
	}
}

// Stop waits for every remaining event to be received; its context bounds that wait.
func TestStopDeliversTheRestOrDropsItWithTheContext(t *testing.T) {
	server := started(t, Config{Host: "127.0.0.1"})
	client := started(t, Config{})
	ctx := context.Background()
	url := fmt.Sprintf("ws://127.0.0.1:%d/", server.Port())
	for i := 0; i < 3; i++ {
		if _, err := client.OpenOutbound(ctx, url, OutboundOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	stopped := make(chan error, 1)
	go func() { stopped <- client.Stop(ctx) }()
	closes := 0
	for event := range client.Events() {
		if event.Trigger == SocketClosed {
			closes++
		}
	}
	if err := <-stopped; err != nil || closes != 3 {
		t.Fatalf("stop: %v, %d closed events", err, closes)
	}
	// Nobody receives the server's events: a context that is done drops them.
	expired, cancel := context.WithCancel(ctx)
	cancel()
	if err := server.Stop(expired); !errors.Is(err, context.Canceled) {
		t.Fatalf("stop: %v", err)
	}
	if _, ok := <-server.Events(); ok {
		t.Fatal("events after a stop that dropped them")
	}
}

// permessage-deflate: Compression on both ends, the server's preferred parameters, the
// extension each end reports, a message that compresses well both ways, and an open that
// does not offer it.
func TestCompression(t *testing.T) {
	server := started(t, Config{Host: "127.0.0.1", Compression: true, ServerNoContextTakeover: true,
		ServerMaxWindowBits: 10, CompressionLevel: 6})
	client := started(t, Config{Compression: true})
	url := fmt.Sprintf("ws://127.0.0.1:%d/", server.Port())
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	id, err := client.OpenOutbound(ctx, url, OutboundOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const want = "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
	in := next(t, server, InboundConnection).Socket
	out, err := client.Socket(id)
	if err != nil || in.Extensions != want || out.Extensions != want {
		t.Fatalf("extensions %q and %q, %v", in.Extensions, out.Extensions, err)
	}
	text := strings.Repeat(`{"symbol":"ACME","bid":101.25},`, 1000)
	if _, err := client.Send(id, Text(text)); err != nil {
		t.Fatal(err)
	}
	if event := next(t, server, InboundMessage); string(event.Message.Data) != text {
		t.Fatalf("%d bytes", len(event.Message.Data))
	}
	if _, err := server.Send(in.ID, Text(text)); err != nil {
		t.Fatal(err)
	}
	if event := next(t, client, OutboundMessage); string(event.Message.Data) != text {
		t.Fatalf("%d bytes", len(event.Message.Data))
	}
	off := false
	if _, err := client.OpenOutbound(ctx, url, OutboundOptions{Compression: &off}); err != nil {
		t.Fatal(err)
	}
	if in := next(t, server, InboundConnection).Socket; in.Extensions != "" {
		t.Fatalf("extensions %q", in.Extensions)
	}
	if _, err := New(Config{ClientMaxWindowBits: 16}); !errors.Is(err, ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "client_max_window_bits") {
		t.Fatalf("window of 16: %v", err)
	}
}

// MaxInboundConnections and its deprecated alias MaxConnections set one limit; both set is an
// error naming both.
func TestInboundLimitUnderEitherName(t *testing.T) {
	client := started(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, cfg := range []Config{{MaxInboundConnections: 1}, {MaxConnections: 1}} {
		cfg.Host = "127.0.0.1"
		server := started(t, cfg)
		target := fmt.Sprintf("ws://127.0.0.1:%d/", server.Port())
		if _, err := client.OpenOutbound(ctx, target, OutboundOptions{}); err != nil {
			t.Fatalf("%+v: %v", cfg, err)
		}
		_, err := client.OpenOutbound(ctx, target, OutboundOptions{})
		var wsErr *Error
		if !errors.As(err, &wsErr) || wsErr.HTTPStatus != 503 {
			t.Fatalf("%+v: past the limit: %v", cfg, err)
		}
	}
	_, err := New(Config{Host: "127.0.0.1", MaxInboundConnections: 2, MaxConnections: 3})
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "MaxInboundConnections") ||
		!strings.Contains(err.Error(), "MaxConnections") {
		t.Fatalf("both: %v", err)
	}
}
