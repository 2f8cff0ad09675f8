package firewall

import (
	"testing"
	"time"
)

func TestTmpHang(t *testing.T) {
	e := enter(t)
	defer e.close()
	ds := mixedDecisions(200, 200)
	t.Log("first", e.fw.Apply(ds))
	done := make(chan error, 1)
	go func() { done <- e.fw.Apply(ds[:10]) }()
	select {
	case err := <-done:
		t.Log("retry small", err)
	case <-time.After(5 * time.Second):
		t.Fatal("retry hangs")
	}
	go func() { _, err := e.fw.State(); done <- err }()
	select {
	case err := <-done:
		t.Log("state", err)
	case <-time.After(5 * time.Second):
		t.Fatal("state hangs")
	}
	go func() { done <- e.fw.Apply(ds) }()
	select {
	case err := <-done:
		t.Log("retry big", err)
	case <-time.After(5 * time.Second):
		t.Fatal("retry big hangs")
	}
}
