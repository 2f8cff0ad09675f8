package engine

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/riposte-soar/riposte/connector"
)

// Runs, approval answers and queued audit entries are committed with fsync
// unless a caller asks otherwise (only dry runs do, on a throwaway file).
func TestEngineDatabaseSynchronous(t *testing.T) {
	for _, c := range []struct{ ask, want string }{
		{"", "full"},
		{"full", "full"},
		{"off", "off"},
	} {
		t.Run("ask "+c.ask, func(t *testing.T) {
			e, err := Open(filepath.Join(t.TempDir(), "engine.db"), connector.NewRegistry(), Options{Sync: c.ask})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			got, err := e.Synchronous(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("engine.db commits with synchronous=%s, want %s", got, c.want)
			}
		})
	}
}
