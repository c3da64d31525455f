package wsconnector

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// An outbound socket reconnects to a feed (a connector of its own) that stops and starts again
// on the same port: reconnecting events with delays within the policy's bounds, then
// reconnected; a buffered send arrives; attempts that run out end it with ErrRetryExhausted.
func TestReconnect(t *testing.T) {
	feed := started(t, Config{Host: "127.0.0.1"})
	port := feed.Port()
	client := started(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	policy := &Reconnect{InitialDelay: 20 * time.Millisecond, MaxDelay: 160 * time.Millisecond, Multiplier: 2}
	id, err := client.OpenOutbound(ctx, fmt.Sprintf("ws://127.0.0.1:%d/feed", port),
		OutboundOptions{SocketID: "quotes", Groups: []string{"feeds"}, Reconnect: policy})
	if err != nil {
		t.Fatal(err)
	}
	next(t, feed, InboundConnection)
	if err := feed.Close(); err != nil {
		t.Fatal(err)
	}
	for attempt, bound := range []time.Duration{20, 40, 80} {
		event := next(t, client, OutboundReconnecting)
		if event.Attempt != attempt+1 || event.Delay > bound*time.Millisecond || event.Err == nil ||
			event.Socket.State != StateReconnecting {
			t.Fatalf("%+v", event)
		}
	}
	if ok, err := client.Send(id, Text("buffered")); !ok || err != nil {
		t.Fatal(ok, err)
	}
	back := started(t, Config{Host: "127.0.0.1", Port: port})
	if event := next(t, client, OutboundReconnected); event.Socket.ID != "quotes" || event.Attempt < 3 ||
		event.Socket.State != StateConnected || event.Socket.LastError != nil {
		t.Fatalf("%+v", event)
	}
	next(t, back, InboundConnection)
	if event := next(t, back, InboundMessage); string(event.Message.Data) != "buffered" {
		t.Fatalf("%+v", event)
	}

	gone, err := client.OpenOutbound(ctx, fmt.Sprintf("ws://127.0.0.1:%d/", port),
		OutboundOptions{Reconnect: &Reconnect{InitialDelay: 20 * time.Millisecond, MaxDelay: 20 * time.Millisecond,
			MaxAttempts: 1, FailSends: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Close(); err != nil {
		t.Fatal(err)
	}
	for {
		event := next(t, client, 0)
		if event.Socket.ID != gone || event.Trigger != SocketClosed {
			continue
		}
		if event.Code != 1006 || !errors.Is(event.Socket.LastError, ErrRetryExhausted) ||
			event.Socket.State != StateClosed {
			t.Fatalf("%+v", event)
		}
		break
	}
}
