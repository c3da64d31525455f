// A chat that relays every message to every socket, and opens an outbound socket to a feed when
// given one (go run . ws://127.0.0.1:8081/quotes). Its go.mod requires the module wsconnector
// and replaces it with the folder bindings/go (see bindings/go/README.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"wsconnector"
)

func main() { os.Exit(run()) }

func run() int {
	chat, err := wsconnector.New(wsconnector.Config{Host: "127.0.0.1", Port: 8080})
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	defer chat.Close() // stops (closing every socket), then frees
	go func() {
		for event := range chat.Events() { // closed after the last event
			if event.Trigger == wsconnector.InboundMessage {
				_, _ = chat.Broadcast(event.Message, wsconnector.Filter{})
			}
		}
	}()
	if len(os.Args) > 1 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := chat.OpenOutbound(ctx, os.Args[1], wsconnector.OutboundOptions{}); errors.Is(err, wsconnector.ErrHandshake) {
			fmt.Fprintln(os.Stderr, "the feed refused the handshake:", err)
			return 1
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			return 1
		}
	}
	fmt.Printf("listening on ws://127.0.0.1:%d/; Ctrl-C stops\n", chat.Port())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	return 0
}
