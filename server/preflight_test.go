package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/config"
)

// A second node on a taken port fails at once, naming the address and
// its setting, and leaves no data directory behind.
func TestRunRefusesTakenPortBeforeCreatingData(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenUDP, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer takenUDP.Close()
	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	cases := []struct {
		name  string
		set   func(c *config.Config)
		wants []string
	}{
		{"http", func(c *config.Config) { c.HTTP.Listen = taken.Addr().String() },
			[]string{"tcp " + taken.Addr().String(), "http.listen", "the port is taken", "--http"}},
		{"embedded bus", func(c *config.Config) { c.NATS.Listen = taken.Addr().String() },
			[]string{"tcp " + taken.Addr().String(), "nats.listen", "--nats-listen"}},
		{"syslog udp", func(c *config.Config) { c.Ingest.Syslog.Listen = takenUDP.LocalAddr().String() },
			[]string{"udp " + takenUDP.LocalAddr().String(), "ingest.syslog.listen"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Data = filepath.Join(t.TempDir(), "new-data")
			cfg.HTTP.Listen, cfg.NATS.Listen, cfg.Ingest.Syslog.Listen = free(), free(), ""
			c.set(&cfg)
			start := time.Now()
			err := Run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), "test")
			if err == nil {
				t.Fatal("Run started on a taken port")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refused after %v; want at once", d)
			}
			if _, err := os.Stat(cfg.Data); !os.IsNotExist(err) {
				t.Errorf("data directory %s exists after the refusal (%v)", cfg.Data, err)
			}
		})
	}
}
