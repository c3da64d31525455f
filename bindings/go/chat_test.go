package wsconnector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

const roomPrefix = "room:"

// runChat serves the chat (rooms are groups: "/join ROOM" changes rooms, any other text goes
// to the sender's room) from the connector's events until they end.
func runChat(chat *Connector) {
	for event := range chat.Events() {
		socket := event.Socket
		switch event.Trigger {
		case InboundConnection:
			_ = chat.Subscribe(socket.ID, roomPrefix+"lobby")
			_, _ = chat.Send(socket.ID, Text("welcome to the lobby; send /join ROOM to change rooms"))
		case InboundMessage:
			if !event.Message.Text {
				continue
			}
			text := string(event.Message.Data)
			var rooms []string
			for _, group := range socket.Groups {
				if strings.HasPrefix(group, roomPrefix) {
					rooms = append(rooms, group)
				}
			}
			if room := strings.TrimSpace(strings.TrimPrefix(text, "/join ")); strings.HasPrefix(text, "/join ") && room != "" {
				_ = chat.Unsubscribe(socket.ID, rooms...)
				_ = chat.Subscribe(socket.ID, roomPrefix+room)
				_, _ = chat.Send(socket.ID, Text("you are in room "+room))
			} else {
				line := fmt.Sprintf("[%.8s] %s", socket.ID, text)
				_, _ = chat.Broadcast(Text(line), Filter{Type: Inbound, Groups: rooms})
			}
		}
	}
}

// carol is a chat client made of the binding's own outbound socket.
type carol struct {
	t    *testing.T
	conn *Connector
	id   string
}

func (c carol) recv() string {
	c.t.Helper()
	event := next(c.t, c.conn, OutboundMessage)
	return string(event.Message.Data)
}

func (c carol) send(text string) {
	c.t.Helper()
	if _, err := c.conn.Send(c.id, Text(text)); err != nil {
		c.t.Fatal(err)
	}
}

func TestChat(t *testing.T) {
	chat, err := New(Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	var served sync.WaitGroup
	served.Add(1)
	go func() {
		defer served.Done()
		runChat(chat)
	}()
	url := fmt.Sprintf("ws://127.0.0.1:%d/chat", chat.Port())
	ann := newPyClient(t, url)
	bob := newPyClient(t, url)
	clients := started(t, Config{})
	id, err := clients.OpenOutbound(context.Background(), url, OutboundOptions{SocketID: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	carol := carol{t, clients, id}
	for _, welcome := range []string{ann.recv(), bob.recv(), carol.recv()} {
		if !strings.Contains(welcome, "lobby") {
			t.Fatalf("welcome %q", welcome)
		}
	}

	ann.send("hello lobby")
	for _, got := range []string{ann.recv(), bob.recv(), carol.recv()} {
		if !strings.HasSuffix(got, "] hello lobby") {
			t.Fatalf("got %q", got)
		}
	}
	bob.send("/join kitchen")
	if got := bob.recv(); got != "you are in room kitchen" {
		t.Fatalf("got %q", got)
	}
	carol.send("/join kitchen")
	if got := carol.recv(); got != "you are in room kitchen" {
		t.Fatalf("got %q", got)
	}
	carol.send("only the kitchen hears this")
	for _, got := range []string{bob.recv(), carol.recv()} {
		if !strings.HasSuffix(got, "only the kitchen hears this") {
			t.Fatalf("got %q", got)
		}
	}
	ann.send("still in the lobby")
	if got := ann.recv(); !strings.HasSuffix(got, "still in the lobby") {
		t.Fatalf("got %q", got)
	}
	bob.send("kitchen again") // what Bob and Carol get next is this, not Ann's lobby line
	for _, got := range []string{bob.recv(), carol.recv()} {
		if !strings.HasSuffix(got, "kitchen again") {
			t.Fatalf("got %q", got)
		}
	}
	kitchen, err := chat.Sockets(Filter{Groups: []string{roomPrefix + "kitchen"}})
	if err != nil || len(kitchen) != 2 {
		t.Fatalf("kitchen %v %v", kitchen, err)
	}

	if err := chat.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	served.Wait()
	for _, client := range []*pyClient{ann, bob} {
		if code := client.closed(); code != 1001 {
			t.Fatalf("close code %d", code)
		}
	}
	if closed := next(t, clients, SocketClosed); closed.Socket.ID != "carol" || closed.Code != 1001 {
		t.Fatalf("closed %+v", closed)
	}
	if _, err := chat.Send(id, Text("late")); !errors.Is(err, ErrStopped) {
		t.Fatalf("after stop: %v", err)
	}
}
