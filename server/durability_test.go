package server

import (
	"context"
	"testing"
)

// The control database holds decisions, the audit chain and tokens: its
// commits are fsync'd even on a node configured with database.sync: normal,
// which OpenControl no longer consults.
func TestControlDatabaseCommitsWithFsync(t *testing.T) {
	db, err := OpenControl(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mode, err := db.Synchronous(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if mode != "full" {
		t.Fatalf("riposte.db commits with synchronous=%s, want full", mode)
	}
}
