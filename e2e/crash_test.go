package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// marker finds the test's own id in a stored event, wherever the source put it.
func marker(e storedEvent) string {
	if s, ok := e.Fields["seq"].(string); ok {
		return s
	}
	// syslog and plain file lines: the id is the last word of the message.
	f := strings.Fields(e.Raw)
	if len(f) > 0 {
		return f[len(f)-1]
	}
	return ""
}

func countMarkers(evs []storedEvent) map[string]int {
	c := map[string]int{}
	for _, e := range evs {
		c[marker(e)]++
	}
	return c
}

func appendLines(t *testing.T, path, prefix string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := from; i < to; i++ {
		fmt.Fprintf(f, "Nov 26 10:00:00 web-1 sshd[77]: Failed password for root from 192.0.2.%d port 22 ssh2 %s-%d\n", i%250, prefix, i)
	}
}

// TestCrashKeepsAcknowledgedEvents sends through every source, SIGKILLs the
// server while HTTP batches are in flight, restarts it, and checks that every
// acknowledged event is stored exactly once and every other one was reported
// to its sender as failed.
func TestCrashKeepsAcknowledgedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	logFile := filepath.Join(t.TempDir(), "auth.log")
	appendLines(t, logFile, "file", 0, 100)
	n := newNode(t, fmt.Sprintf("  files:\n    - path: %s\n      start_at: beginning\n", logFile))
	n.start()
	want := map[string]bool{}

	// HTTP: a few acknowledged batches, one with a malformed line.
	for b := 0; b < 3; b++ {
		var body bytes.Buffer
		for i := 0; i < 100; i++ {
			fmt.Fprintf(&body, `{"seq":"pre-%d-%d","host":{"name":"web-1"}}`+"\n", b, i)
			want[fmt.Sprintf("pre-%d-%d", b, i)] = true
		}
		body.WriteString("{not json\n")
		resp, rb, err := n.do("POST", "/api/v1/events", n.token, &body, nil)
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("POST: %v %d %s", err, resp.StatusCode, rb)
		}
		var res struct {
			Accepted int `json:"accepted"`
			Rejected int `json:"rejected"`
			Errors   []struct {
				Line int `json:"line"`
			} `json:"errors"`
		}
		json.Unmarshal(rb, &res)
		if res.Accepted != 100 || res.Rejected != 1 || len(res.Errors) != 1 || res.Errors[0].Line != 101 {
			t.Fatalf("answer %s: want 100 accepted and line 101 rejected", rb)
		}
	}
	// Syslog over UDP and TCP (both framings).
	udp, err := net.Dial("udp", n.syslog)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		fmt.Fprintf(udp, "<38>Nov 26 10:00:00 web-2 sshd[1]: Failed password for admin from 198.51.100.1 port 2 ssh2 udp-%d", i)
		want[fmt.Sprintf("udp-%d", i)] = true
		time.Sleep(time.Millisecond) // loopback UDP still drops when flooded
	}
	udp.Close()
	tcp, err := net.Dial("tcp", n.syslog)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		msg := fmt.Sprintf("<38>1 2026-11-26T10:00:00Z web-3 sshd 1 - - Accepted password for bob from 198.51.100.2 port 3 ssh2 tcp-%d", i)
		if i%2 == 0 {
			fmt.Fprintf(tcp, "%d %s", len(msg), msg)
		} else {
			fmt.Fprintf(tcp, "%s\n", msg)
		}
		want[fmt.Sprintf("tcp-%d", i)] = true
	}
	tcp.Close()
	for i := 0; i < 100; i++ {
		want[fmt.Sprintf("file-%d", i)] = true
	}
	waitFor(t, "events from every source", 30*time.Second, func() bool {
		c := countMarkers(n.events(""))
		for k := range want {
			if c[k] == 0 {
				return false
			}
		}
		return true
	})

	// Crash with HTTP batches in flight and the file growing.
	type batch struct {
		ids   []string
		acked bool
		err   string
	}
	var mu sync.Mutex
	var batches []*batch
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for s := 0; s < 4; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				b := &batch{}
				var body bytes.Buffer
				for i := 0; i < 500; i++ {
					id := fmt.Sprintf("crash-%d-%d-%d", s, k, i)
					b.ids = append(b.ids, id)
					fmt.Fprintf(&body, `{"seq":%q,"host":{"name":"web-9"},"message":"load"}`+"\n", id)
				}
				req, _ := http.NewRequest("POST", "http://"+n.http+"/api/v1/events", &body)
				req.Header.Set("Authorization", "Bearer "+n.token)
				resp, err := client.Do(req)
				if err != nil {
					b.err = err.Error()
				} else {
					var res struct{ Accepted int }
					json.NewDecoder(resp.Body).Decode(&res)
					resp.Body.Close()
					b.acked = resp.StatusCode == 202 && res.Accepted == 500
					if !b.acked {
						b.err = fmt.Sprintf("status %d, accepted %d", resp.StatusCode, res.Accepted)
					}
				}
				mu.Lock()
				batches = append(batches, b)
				mu.Unlock()
				if err != nil {
					return // the server is gone
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	appendLines(t, logFile, "file", 100, 150)
	time.Sleep(200 * time.Millisecond)
	n.stop(syscall.SIGKILL)
	close(stop)
	wg.Wait()
	appendLines(t, logFile, "file", 150, 200) // written while Riposte is down
	n.start()
	appendLines(t, logFile, "file", 200, 250)
	for i := 100; i < 250; i++ {
		want[fmt.Sprintf("file-%d", i)] = true
	}

	var acked, failed int
	unacked := map[string]bool{}
	for _, b := range batches {
		for _, id := range b.ids {
			if b.acked {
				want[id] = true
			} else {
				unacked[id] = true
			}
		}
		if b.acked {
			acked++
		} else {
			failed++
			if b.err == "" {
				t.Errorf("a batch was neither acknowledged nor reported as failed")
			}
		}
	}
	if acked == 0 || failed == 0 {
		t.Fatalf("the crash should cut some batches: %d acknowledged, %d failed", acked, failed)
	}
	var c map[string]int
	deadline := time.Now().Add(60 * time.Second)
	for {
		c = countMarkers(n.events(""))
		var missing []string
		for k := range want {
			if c[k] == 0 {
				missing = append(missing, k)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			t.Fatalf("%d acknowledged events missing after the restart, e.g. %v\nlog:\n%s", len(missing), missing[:min(10, len(missing))], n.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for k := range want {
		if c[k] != 1 {
			t.Errorf("%s stored %d times, want exactly once", k, c[k])
		}
	}
	storedUnacked := 0
	for k := range unacked {
		if c[k] > 1 {
			t.Errorf("unacknowledged %s stored %d times", k, c[k])
		}
		storedUnacked += c[k]
	}
	t.Logf("%d batches acknowledged, %d reported failed to their sender (%d of their events were stored before the crash, once each)",
		acked, failed, storedUnacked)
}
