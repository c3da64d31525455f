package wsconnector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// The figures count the traffic, the endpoints answer, and a drain closes the sockets in
// batches with its code while a new connection gets 503.
func TestMetricsAndDrain(t *testing.T) {
	server := started(t, Config{Host: "127.0.0.1", MetricsPath: "/metrics", HealthPath: "/health",
		PingInterval: Disabled})
	client := started(t, Config{PingInterval: Disabled})
	base := fmt.Sprintf("ws://127.0.0.1:%d", server.Port())
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for i := 0; i < 3; i++ {
		if _, err := client.OpenOutbound(ctx, base+"/room", OutboundOptions{}); err != nil {
			t.Fatal(err)
		}
		next(t, server, InboundConnection)
	}
	figures, err := server.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	open := 0.0
	for _, sample := range figures["wsconnector_sockets_open"] {
		if sample.Labels["type"] == "inbound" {
			open = sample.Value
		}
	}
	if open != 3 {
		t.Fatalf("sockets open: %v in %v", open, figures["wsconnector_sockets_open"])
	}
	text, err := server.MetricsText()
	if err != nil || len(text) == 0 {
		t.Fatal(text, err)
	}
	for path, status := range map[string]int{"/metrics": 200, "/health": 200} {
		answer, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", server.Port(), path))
		if err != nil || answer.StatusCode != status {
			t.Fatalf("GET %s: %v %v", path, answer, err)
		}
		answer.Body.Close()
	}

	progress, err := server.Drain(ctx, DrainOptions{BatchSize: 2, Interval: 10 * time.Millisecond,
		Code: 1012, Reason: "restart"})
	if err != nil || progress != (DrainProgress{Matched: 3, Requested: 3, Closed: 3, Batches: 2, Finished: true}) {
		t.Fatalf("drain: %+v %v", progress, err)
	}
	for i := 0; i < 3; i++ {
		if event := next(t, client, SocketClosed); event.Code != 1012 {
			t.Fatalf("closed with %d", event.Code)
		}
	}
	_, err = client.OpenOutbound(ctx, base+"/room", OutboundOptions{})
	var refused *Error
	if !errors.Is(err, ErrHandshake) || !errors.As(err, &refused) || refused.HTTPStatus != 503 {
		t.Fatalf("a new connection while draining: %v", err)
	}
	answer, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", server.Port()))
	if err != nil || answer.StatusCode != 503 {
		t.Fatalf("health while draining: %v %v", answer, err)
	}
	answer.Body.Close()
}
