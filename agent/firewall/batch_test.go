package firewall

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// deleteMissing queues n deletions of a table that does not exist: each one
// is refused by the kernel with ENOENT.
func deleteMissing(n int) func(c *nftables.Conn) error {
	return func(c *nftables.Conn) error {
		for range n {
			c.DelTable(&nftables.Table{Name: "riposte-missing", Family: nftables.TableFamilyINet})
		}
		return nil
	}
}

// afterFailure checks that the Firewall still works after a failed batch:
// the failure used to leave replies queued on the socket, and the next
// request read them as its own and then waited forever.
func afterFailure(t *testing.T, e *nsEnv) {
	t.Helper()
	ds := mixedDecisions(300, 3)
	done := make(chan error, 1)
	go func() {
		if err := e.fw.Apply(ds); err != nil {
			done <- err
			return
		}
		st, err := e.fw.State()
		if err == nil {
			sameDecisions(t, ds, st)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after a failed batch: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("after a failed batch: Apply/State did not return")
	}
}

func TestBatchErrorReported(t *testing.T) {
	e := enter(t)
	defer e.close()
	e.fw.mu.Lock()
	err := e.fw.commit(deleteMissing(1))
	e.fw.mu.Unlock()
	var ke *kernelError
	if !errors.As(err, &ke) || !errors.Is(err, unix.ENOENT) || !strings.Contains(err.Error(), "delete table") {
		t.Fatalf("want the kernel's ENOENT for the delete, got %v", err)
	}
	afterFailure(t, e)
}

// TestBatchErrorFlood makes the kernel answer with more errors than the
// socket's receive buffer holds (ENOBUFS): the batch must fail promptly,
// with the errors it could read, and leave the Firewall usable.
func TestBatchErrorFlood(t *testing.T) {
	e := enter(t)
	defer e.close()
	e.fw.mu.Lock()
	start := time.Now()
	err := e.fw.commit(deleteMissing(5000))
	e.fw.mu.Unlock()
	if !errors.Is(err, unix.ENOENT) || !errors.Is(err, unix.ENOBUFS) {
		t.Fatalf("want ENOENT errors and ENOBUFS, got %v", err)
	}
	t.Logf("%v after %v", err, time.Since(start))
	afterFailure(t, e)
}

// TestStateChainDeleted: a decision chain deleted by someone else is drift
// for Reconcile to repair, not a State error.
func TestStateChainDeleted(t *testing.T) {
	e := enter(t)
	defer e.close()
	ds := []Decision{
		{ID: "i", Action: "deny", Direction: "in", Net: pfx("192.0.2.0/24"), Proto: "tcp", Port: 22},
		{ID: "o", Action: "deny", Direction: "out", Net: pfx("198.51.100.0/24"), Port: 53},
	}
	if err := e.fw.Apply(ds); err != nil {
		t.Fatal(err)
	}
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tb := &nftables.Table{Name: "riposte", Family: nftables.TableFamilyINet}
	c.FlushChain(&nftables.Chain{Name: chainIn, Table: tb})
	c.DelChain(&nftables.Chain{Name: chainIn, Table: tb})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	st, err := e.fw.State()
	if err != nil {
		t.Fatalf("State with the input chain deleted: %v", err)
	}
	sameDecisions(t, ds[1:], st)
	if err := e.fw.Apply(ds); err != nil {
		t.Fatal(err)
	}
	st, err = e.fw.State()
	if err != nil {
		t.Fatal(err)
	}
	sameDecisions(t, ds, st)
}

func TestClosed(t *testing.T) {
	e := enter(t)
	defer e.close()
	fw := e.fw
	e.fw = nil
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fw.Apply(nil); !errors.Is(err, errClosed) {
		t.Fatalf("Apply after Close: %v", err)
	}
	if _, err := fw.State(); !errors.Is(err, errClosed) {
		t.Fatalf("State after Close: %v", err)
	}
}

// TestRetryOnBrokenSocket: a batch that fails for want of a working socket
// (here: closed under the Firewall) is sent again on a new one.
func TestRetryOnBrokenSocket(t *testing.T) {
	e := enter(t)
	defer e.close()
	ds := mixedDecisions(100, 7)
	if err := e.fw.Apply(ds[:10]); err != nil {
		t.Fatal(err)
	}
	e.fw.tx.Close()
	if err := e.fw.Apply(ds); err != nil {
		t.Fatalf("Apply on a broken socket was not retried: %v", err)
	}
	st, err := e.fw.State()
	if err != nil {
		t.Fatal(err)
	}
	sameDecisions(t, ds, st)
}
