package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/notify/channel"
)

const secret = "hmac-key-for-tests"

type got struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP server that keeps what it receives and answers
// with status.
func receiver(t *testing.T, status int, extra http.Header) (*httptest.Server, func() []got) {
	var mu sync.Mutex
	var reqs []got
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, got{r.Header.Clone(), b})
		mu.Unlock()
		for k, v := range extra {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "answer body")
	}))
	t.Cleanup(srv.Close)
	return srv, func() []got { mu.Lock(); defer mu.Unlock(); return append([]got(nil), reqs...) }
}

func message(id string) channel.Message {
	return channel.Message{
		Event: channel.EventNeedsApproval, Time: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC), Text: "approve isolation of web-1",
		Incident: channel.Incident{ID: id, Title: `<b>"quoted"</b> & more`, Priority: "P2", Owners: []string{"it-ops"},
			Hosts: []string{"web-1"}, AlertCount: 2, URL: "https://riposte.example/i/" + id},
	}
}

func sendTo(t *testing.T, c *Channel, msgs ...channel.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Send(ctx, msgs)
}

func TestSignedJSON(t *testing.T) {
	t.Setenv("TEST_HOOK_SECRET", secret)
	t.Setenv("TEST_HOOK_AUTH", "Bearer tok-123")
	srv, reqs := receiver(t, http.StatusAccepted, nil)
	c, err := New("hook", Config{URL: srv.URL + "/in", SecretEnv: "TEST_HOOK_SECRET",
		Headers: map[string]string{"X-Tenant": "blue"}, HeadersEnv: map[string]string{"Authorization": "TEST_HOOK_AUTH"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m1, m2 := message("INC-1"), message("INC-2")
	if err := sendTo(t, c, m1, m2); err != nil {
		t.Fatal(err)
	}
	if err := sendTo(t, c, m1, m2); err != nil {
		t.Fatal(err)
	}
	r := reqs()
	if len(r) != 2 {
		t.Fatalf("%d requests", len(r))
	}
	h := r[0].header
	if h.Get("Content-Type") != "application/json" || h.Get("X-Tenant") != "blue" || h.Get("Authorization") != "Bearer tok-123" {
		t.Errorf("headers %v", h)
	}
	if err := Verify([]byte(secret), h, r[0].body, 5*time.Minute, time.Now()); err != nil {
		t.Errorf("verify: %v", err)
	}
	sec, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Second {
		t.Errorf("timestamp %q is not now", h.Get(HeaderTimestamp))
	}
	if !strings.HasPrefix(h.Get(HeaderSignature), "sha256=") || len(h.Get(HeaderSignature)) != 7+64 {
		t.Errorf("signature %q", h.Get(HeaderSignature))
	}
	// Check the documented scheme independently of Verify.
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(h.Get(HeaderTimestamp) + "." + string(r[0].body)))
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); h.Get(HeaderSignature) != want {
		t.Errorf("signature %q, want %q", h.Get(HeaderSignature), want)
	}
	// The timestamp is signed: changing it, the body, or the key breaks it.
	h2 := h.Clone()
	h2.Set(HeaderTimestamp, "1")
	if err := Verify([]byte(secret), h2, r[0].body, 5*time.Minute, time.Now()); err != ErrBadSignature {
		t.Errorf("altered timestamp: %v", err)
	}
	if err := Verify([]byte(secret), h, append(r[0].body, ' '), 5*time.Minute, time.Now()); err != ErrBadSignature {
		t.Errorf("altered body: %v", err)
	}
	if err := Verify([]byte("other"), h, r[0].body, 5*time.Minute, time.Now()); err != ErrBadSignature {
		t.Errorf("other key: %v", err)
	}
	if err := Verify([]byte(secret), h, r[0].body, 5*time.Minute, time.Now().Add(time.Hour)); err != ErrStale {
		t.Errorf("replayed an hour later: %v", err)
	}
	if err := Verify([]byte(secret), http.Header{}, r[0].body, 5*time.Minute, time.Now()); err != ErrNoSignature {
		t.Errorf("unsigned: %v", err)
	}
	// A receiver whose secret variable is unset must not accept what
	// anybody can sign with the empty key.
	empty := h.Clone()
	empty.Set(HeaderSignature, Sign(nil, h.Get(HeaderTimestamp), r[0].body))
	if err := Verify(nil, empty, r[0].body, 5*time.Minute, time.Now()); err != ErrNoSecret {
		t.Errorf("empty secret: %v", err)
	}
	// The same send has the same delivery ID.
	if h.Get(HeaderDelivery) == "" || h.Get(HeaderDelivery) != r[1].header.Get(HeaderDelivery) {
		t.Errorf("delivery ids %q %q", h.Get(HeaderDelivery), r[1].header.Get(HeaderDelivery))
	}

	var b Body
	if err := json.Unmarshal(r[0].body, &b); err != nil {
		t.Fatal(err)
	}
	if b.Channel != "hook" || b.Count != 2 || len(b.Messages) != 2 || b.ID != h.Get(HeaderDelivery) {
		t.Errorf("body %+v", b)
	}
	if got := b.Messages[0]; got.Incident.Title != m1.Incident.Title || got.Event != "needs_approval" ||
		!got.Time.Equal(m1.Time) || got.Incident.URL != m1.Incident.URL || got.Text != m1.Text {
		t.Errorf("message %+v", got)
	}
	var raw map[string]any
	_ = json.Unmarshal(r[0].body, &raw)
	inc := raw["messages"].([]any)[0].(map[string]any)["incident"].(map[string]any)
	for _, k := range []string{"id", "title", "priority", "owners", "hosts", "alert_count", "url"} {
		if _, ok := inc[k]; !ok {
			t.Errorf("incident JSON lacks %q: %v", k, inc)
		}
	}
}

func TestStatusClasses(t *testing.T) {
	for _, tc := range []struct {
		status     int
		extra      http.Header
		permanent  bool
		retryAfter time.Duration
	}{
		{400, nil, true, 0},
		{404, nil, true, 0},
		{302, http.Header{"Location": {"http://elsewhere.example/"}}, true, 0},
		{429, http.Header{"Retry-After": {"7"}}, false, 7 * time.Second},
		{503, nil, false, 0},
		{500, nil, false, 0},
	} {
		srv, reqs := receiver(t, tc.status, tc.extra)
		c, err := New("hook", Config{URL: srv.URL + "/path/SECRET-TOKEN?key=SECRET-Q"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = sendTo(t, c, message("INC-1"))
		if err == nil {
			t.Fatalf("%d: no error", tc.status)
		}
		if channel.IsPermanent(err) != tc.permanent {
			t.Errorf("%d: permanent %v: %v", tc.status, channel.IsPermanent(err), err)
		}
		if ra, _ := channel.RetryAfter(err); ra != tc.retryAfter {
			t.Errorf("%d: retry after %v", tc.status, ra)
		}
		if strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), srv.URL) {
			t.Errorf("%d: error shows the URL's secret part, or not the host: %v", tc.status, err)
		}
		if len(reqs()) != 1 {
			t.Errorf("%d: %d requests (redirect followed?)", tc.status, len(reqs()))
		}
	}
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	c, err := New("hook", Config{URL: "http://user:PASSWORD@" + addr + "/SECRET"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = sendTo(t, c, message("INC-1"))
	if err == nil || channel.IsPermanent(err) {
		t.Fatalf("%v, want transient", err)
	}
	if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "PASSWORD") {
		t.Errorf("secret in error: %v", err)
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("error: %v", err)
	}
	// Link-local addresses (cloud metadata) are refused outright.
	c, _ = New("hook", Config{URL: "http://169.254.169.254/latest/"}, nil)
	if err := sendTo(t, c, message("INC-1")); err == nil || !channel.IsPermanent(err) {
		t.Errorf("metadata address: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Setenv("BAD_HDR", "a\r\nb")
	_, err := New("hook", Config{URL: "ftp://x/y", SecretEnv: "UNSET_SECRET_VAR",
		Headers:    map[string]string{"X-Riposte-Signature": "x", "Bad Name": "v", "X-Ok": "line\nbreak"},
		HeadersEnv: map[string]string{"Authorization": "BAD_HDR"}}, &channel.Template{Text: "x"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"webhook.url: must start with https://", "UNSET_SECRET_VAR", "X-Riposte-", `"Bad Name"`,
		"line break", "value of BAD_HDR", "take no template"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "a\r\nb") {
		t.Error("secret header value in error")
	}
	if s := (Config{URL: "https://h.example/SECRET"}).String(); strings.Contains(s, "SECRET") {
		t.Errorf("String shows secret: %s", s)
	}
}
