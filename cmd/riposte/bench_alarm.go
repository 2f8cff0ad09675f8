package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/store"
)

func benchAlarmCmd() *cobra.Command {
	var n, entities int
	var profile string
	c := &cobra.Command{
		Use:   "alarm",
		Short: "Push alerts through the alerts stream into the alarm stage; print alerts/s to incidents and p99 alert-to-incident latency",
		Long: `Runs in this process against a temporary data directory: an embedded JetStream bus and
a SQLite control database, as riposte serve has them. Publishes --alerts alerts over
--entities hosts, users and addresses as fast as the bus takes them, while the alarm stage
consumes, deduplicates, groups and commits them. Prints the rate and the time from each
alert's publication to the commit of its incident update. The baseline, in the same run,
stores the same alerts as plain rows in batches of the same size, with no alarm logic.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if profile != "" {
				f, err := os.Create(profile)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				defer f.Close()
				pprof.StartCPUProfile(f)
				defer pprof.StopCPUProfile()
			}
			dir, err := os.MkdirTemp("", "riposte-bench-alarm")
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer os.RemoveAll(dir)
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			alerts := benchAlerts(n, entities)
			out := c.OutOrStdout()

			base, err := baselineStore(filepath.Join(dir, "base.db"), alerts)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			fmt.Fprintf(out, "baseline (plain rows, batches of 1000): %10.0f alerts/s\n", base)

			b, err := bus.Start(bus.Config{Listen: "127.0.0.1:-1", StoreDir: filepath.Join(dir, "nats"), SyncAlways: true}, log)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer b.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if _, err := b.EnsureAlerts(ctx, time.Hour, 4<<30); err != nil {
				return &exitError{code: 2, err: err}
			}
			cons, err := alarm.EnsureConsumer(ctx, b.JS)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			// As serve opens it: every commit fsync'd.
			db, err := store.Open(filepath.Join(dir, "riposte.db"), "full", store.Control)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer db.Close()
			svc, err := alarm.NewService(ctx, alarm.DefaultConfig(), db, nil, log)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			var mu sync.Mutex
			lat := make([]time.Duration, 0, n)
			done := make(chan struct{})
			svc.AfterCommit = func(batch []alert.Alert, at time.Time) {
				mu.Lock()
				defer mu.Unlock()
				for _, a := range batch {
					lat = append(lat, at.Sub(a.Detected))
				}
				if len(lat) >= n {
					select {
					case <-done:
					default:
						close(done)
					}
				}
			}
			go svc.Run(ctx, cons, time.Hour)
			start := time.Now()
			// Detection publishes up to 500 alerts a message; so does the bench.
			for lo := 0; lo < len(alerts); lo += 500 {
				chunk := alerts[lo:min(lo+500, len(alerts))]
				now := time.Now()
				for i := range chunk {
					chunk[i].Detected = now
				}
				data, _ := json.Marshal(chunk)
				msg := &nats.Msg{Subject: bus.AlertsSubject + ".sigma", Data: data}
				for {
					_, err := b.JS.PublishMsgAsync(msg)
					if err == nil {
						break
					}
					if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
						return &exitError{code: 2, err: err}
					}
					<-b.JS.PublishAsyncComplete() // the bus is the bottleneck: wait for it
				}
			}
			select {
			case <-b.JS.PublishAsyncComplete():
			case <-time.After(5 * time.Minute):
				return &exitError{code: 2, err: fmt.Errorf("publishing did not complete")}
			}
			select {
			case <-done:
			case <-time.After(10 * time.Minute):
				return &exitError{code: 2, err: fmt.Errorf("the alarm stage did not finish")}
			}
			el := time.Since(start)
			cancel()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			incs, _ := svc.Store().List(context.Background(), alarm.Filter{Limit: 1000})
			rate := float64(n) / el.Seconds()
			fmt.Fprintf(out, "riposte alarm (stream → incidents):    %10.0f alerts/s; %d alerts over %d entities in %v\n", rate, n, entities, el.Round(time.Millisecond))
			fmt.Fprintf(out, "alert to incident update: p50 %v, p99 %v, max %v\n", lat[len(lat)/2].Round(time.Millisecond),
				lat[len(lat)*99/100].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
			fmt.Fprintf(out, "incidents in the queue (first 1000 read): %d; ratio to baseline: %.2f\n", len(incs), rate/base)
			return nil
		},
	}
	c.Flags().IntVar(&n, "alerts", 100000, "alerts to send")
	c.Flags().IntVar(&entities, "entities", 10000, "distinct entities")
	c.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile to this file")
	return c
}

// benchAlerts makes a realistic mix: a few dozen rules, each alert about a
// host, a user and an address drawn from the entity pool, so repeats,
// grouping and new incidents all happen.
func benchAlerts(n, entities int) []alert.Alert {
	levels := []string{"low", "medium", "high", "critical"}
	tactics := []string{"attack.discovery", "attack.execution", "attack.credential_access", "attack.exfiltration"}
	out := make([]alert.Alert, n)
	t0 := time.Now()
	for i := range out {
		e := (i * 7919) % entities
		r := i % 40
		out[i] = alert.Alert{ID: event.NewID(t0), Kind: alert.KindSigma,
			Rule: alert.Rule{ID: fmt.Sprintf("rule-%02d", r), Title: fmt.Sprintf("Bench rule %d", r), Level: levels[r%4], Tags: []string{tactics[r%4]}},
			Time: t0, FirstEventTime: t0, EventIDs: []string{event.NewID(t0)},
			Entities: alert.Entities{Hosts: []string{fmt.Sprintf("host-%d", e/3)}, Users: []string{fmt.Sprintf("user-%d", e)},
				SourceIPs: []string{fmt.Sprintf("10.%d.%d.%d", e>>16&255, e>>8&255, e&255)}},
		}
	}
	return out
}

func baselineStore(path string, alerts []alert.Alert) (float64, error) {
	db, err := store.Open(path, "full", []store.Migration{`CREATE TABLE a (id TEXT PRIMARY KEY, doc TEXT NOT NULL)`})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	start := time.Now()
	for i := 0; i < len(alerts); i += 1000 {
		tx, err := db.W.Begin()
		if err != nil {
			return 0, err
		}
		st, err := tx.Prepare(`INSERT INTO a (id, doc) VALUES (?, ?)`)
		if err != nil {
			return 0, err
		}
		for _, a := range alerts[i:min(i+1000, len(alerts))] {
			doc, _ := json.Marshal(a)
			if _, err := st.Exec(a.ID, string(doc)); err != nil {
				return 0, err
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}
	return float64(len(alerts)) / time.Since(start).Seconds(), nil
}
