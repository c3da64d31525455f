package wsconnector

// Test helpers: independent clients (Python's `websockets` in a subprocess, testdata/client.py)
// and bounded waits. Nothing sleeps to let things settle.

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// wait bounds every wait in the tests.
const wait = 10 * time.Second

// python is the interpreter with `websockets`: $WSC_TEST_PYTHON, else the repository's .venv.
func python(t *testing.T) string {
	if p := os.Getenv("WSC_TEST_PYTHON"); p != "" {
		return p
	}
	p, err := filepath.Abs("../../.venv/bin/python")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no Python with websockets at %s: run `make test-go` (it makes .venv) or set WSC_TEST_PYTHON", p)
	}
	return p
}

// pyClient is a `websockets` client in a subprocess.
type pyClient struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan map[string]interface{}
}

func newPyClient(t *testing.T, url string) *pyClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	cmd := exec.CommandContext(ctx, python(t), "testdata/client.py", url)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &pyClient{t: t, cmd: cmd, stdin: stdin, lines: make(chan map[string]interface{}, 64)}
	go func() {
		defer close(c.lines)
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			var line map[string]interface{}
			if json.Unmarshal(scanner.Bytes(), &line) == nil {
				c.lines <- line
			}
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
		cancel()
	})
	if _, ok := c.next()["open"]; !ok {
		t.Fatalf("client to %s did not open", url)
	}
	return c
}

func (c *pyClient) next() map[string]interface{} {
	c.t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			c.t.Fatal("the client ended")
		}
		return line
	case <-time.After(wait):
		c.t.Fatal("no line from the client in time")
	}
	return nil
}

// recv is the next text message the client received.
func (c *pyClient) recv() string {
	c.t.Helper()
	line := c.next()
	text, ok := line["message"].(string)
	if !ok {
		c.t.Fatalf("expected a text message, got %v", line)
	}
	return text
}

// closed waits for the end of the connection and returns its close code.
func (c *pyClient) closed() int {
	c.t.Helper()
	for {
		line := c.next()
		if code, ok := line["closed"].(float64); ok {
			return int(code)
		}
	}
}

func (c *pyClient) send(text string) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"send": text})
	if _, err := c.stdin.Write(append(b, '\n')); err != nil {
		c.t.Fatal(err)
	}
}

// next is the connector's next event (of trigger, skipping others, when trigger is not 0).
func next(t *testing.T, c *Connector, trigger Trigger) Event {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case event, ok := <-c.Events():
			if !ok {
				t.Fatal("the events ended")
			}
			if trigger == 0 || event.Trigger == trigger {
				return event
			}
		case <-deadline:
			t.Fatalf("no %v event in time", trigger)
		}
	}
}

// started is a running connector, stopped (events drained) at the end of the test.
func started(t *testing.T, cfg Config) *Connector {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
