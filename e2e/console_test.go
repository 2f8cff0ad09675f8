package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/riposte-soar/riposte/internal/browsertest"
)

// value runs one browser action that returns a value, within the step
// timeout, and fails the test if it fails.
func value[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browsertest.StepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// consolePassword is the first user's password, written on first start.
func consolePassword(t *testing.T, n *node) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.data, "admin.password"))
	if err != nil {
		t.Fatalf("the first start wrote no console password: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// TestConsoleQueueInBrowser: a person signs in, keeps the queue open, and
// a brute force sent over syslog appears without a reload; a user name
// carrying script and markup from the attacker's log line shows as text
// and runs nothing.
func TestConsoleQueueInBrowser(t *testing.T) {
	n := newNode(t, "")
	n.start()
	ctx := browsertest.New(t)
	browsertest.Do(t, ctx,
		chromedp.Navigate(n.url()+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
	)
	loc := value(t, ctx, chromedp.Location())
	if !strings.Contains(loc, "/login") {
		t.Fatalf("opening the console without a session shows %s, want the sign-in page", loc)
	}
	browsertest.AssertAxe(t, ctx, "sign-in")
	browsertest.Screenshot(t, ctx, "sign-in")

	browsertest.Do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`#name`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`#password`), consolePassword(t, n)),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`table.queue`)),
		// A marker that a reload would wipe.
		chromedp.Evaluate[chromedp.Void](`window.__noReload = true`),
	)
	browsertest.AssertAxe(t, ctx, "queue (empty)")

	hostile := `<script>alert(1)</script>`
	var lines []string
	for i := 0; i < 12; i++ {
		lines = append(lines, fmt.Sprintf("Failed password for invalid user %s%d from 203.0.113.77 port %d ssh2", hostile, i, 40000+i))
	}
	sendSyslogTCP(t, n.syslog, lines...)
	var rows int
	deadline := time.Now().Add(45 * time.Second)
	for rows == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no incident row appeared in the open queue within 45s\nserver log:\n%s", tail(n.log.String(), 30))
		}
		time.Sleep(250 * time.Millisecond)
		rows = value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("tr[data-incident]").length`))
	}
	kept := value(t, ctx, chromedp.Evaluate[bool](`window.__noReload === true`))
	text := value(t, ctx, chromedp.Text(chromedp.CSS(`table.queue`)))
	if !kept {
		t.Error("the queue reloaded the page to show the new incident; it should update in place")
	}
	if !strings.Contains(text, "203.0.113.77") {
		t.Errorf("the new row does not name the attacker's address: %q", text)
	}
	browsertest.AssertNoDialogs(t, ctx)
	browsertest.AssertNoErrors(t, ctx)
	browsertest.AssertAxe(t, ctx, "queue")
	browsertest.Screenshot(t, ctx, "queue")
}
