package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/set"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/playbook"
	"github.com/riposte-soar/riposte/store"
)

// benchPlaybook is five set.vars actions between start and end: 7 steps.
const benchPlaybook = `id: playbook--b0e5c1a4-7a52-4f0e-9a1b-3c9d2e8f6a10
name: Engine bench
modified: 2026-11-26T00:00:00Z
vars:
  x: {type: string, value: "0", description: the value each step sets}
start: s1
steps:
  s1: {connector: set.vars, args: {values: {x: "1"}}, next: s2}
  s2: {connector: set.vars, args: {values: {x: "2"}}, next: s3}
  s3: {connector: set.vars, args: {values: {x: "3"}}, next: s4}
  s4: {connector: set.vars, args: {values: {x: "4"}}, next: s5}
  s5: {connector: set.vars, args: {values: {x: "5"}}, next: done}
  done: end
`

// firstStep records when each run's first step ran.
type firstStep struct {
	connector.Connector
	mu    sync.Mutex
	first map[string]time.Time
}

func (f *firstStep) Execute(ctx context.Context, c connector.Call) (connector.Result, error) {
	f.mu.Lock()
	if _, ok := f.first[c.RunID]; !ok {
		f.first[c.RunID] = time.Now()
	}
	f.mu.Unlock()
	return f.Connector.Execute(ctx, c)
}

func benchEngineCmd() *cobra.Command {
	var runs, workers int
	c := &cobra.Command{
		Use:   "engine",
		Short: "Durable steps per second (fsync on every commit) and p99 time from trigger to first step",
		Long: `Starts --runs runs of a 7-step playbook (five set.vars actions) at once on a temporary engine
database with synchronous=FULL, and measures steps per second until all finish, and the time from
each Start to its first connector call. The baseline, in the same run, commits one journal-sized
row per transaction with the same fsync: the disk's floor for one-transaction-per-step engines.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			dir, err := os.MkdirTemp("", "riposte-bench-engine")
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer os.RemoveAll(dir)
			out := c.OutOrStdout()
			base, err := baselineCommits(filepath.Join(dir, "base.db"), 2000)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			fmt.Fprintf(out, "baseline (one fsync'd transaction per row): %8.0f commits/s\n", base)

			pb, errs := playbook.ParseYAML([]byte(benchPlaybook))
			if playbook.HasErrors(errs) {
				return &exitError{code: 2, err: fmt.Errorf("bench playbook: %v", errs)}
			}
			fs := &firstStep{Connector: set.New(set.Config{}), first: map[string]time.Time{}}
			reg := connector.NewRegistry()
			if err := reg.Register(fs); err != nil {
				return &exitError{code: 2, err: err}
			}
			eng, err := engine.Open(filepath.Join(dir, "engine.db"), reg, engine.Options{Workers: workers, Poll: 20 * time.Millisecond, Sync: "full"})
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer eng.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			go func() { eng.Run(ctx); close(done) }()
			t0 := time.Now()
			started := make(map[string]time.Time, runs)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					for i := g; i < runs; i += 4 {
						ts := time.Now()
						id, err := eng.Start(context.Background(), pb, 1, nil, "")
						if err != nil {
							continue
						}
						mu.Lock()
						started[id] = ts
						mu.Unlock()
					}
				}(g)
			}
			wg.Wait()
			for {
				rs, err := eng.Runs(context.Background(), engine.RunFilter{Status: engine.StatusSucceeded, Limit: runs + 1})
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				if len(rs) >= len(started) {
					break
				}
				if time.Since(t0) > 10*time.Minute {
					return &exitError{code: 2, err: fmt.Errorf("runs did not finish")}
				}
				time.Sleep(10 * time.Millisecond)
			}
			el := time.Since(t0)
			cancel()
			<-done
			var lat []time.Duration
			fs.mu.Lock()
			for id, ts := range started {
				if f, ok := fs.first[id]; ok {
					lat = append(lat, f.Sub(ts))
				}
			}
			fs.mu.Unlock()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			rate := float64(len(started)*7) / el.Seconds()
			fmt.Fprintf(out, "riposte engine (durable, fsync):            %8.0f steps/s; %d runs of 7 steps in %v, %d workers\n",
				rate, len(started), el.Round(time.Millisecond), workers)
			if len(lat) > 0 {
				fmt.Fprintf(out, "trigger to first step: p50 %v, p99 %v (all runs started at once: mostly queueing)\n",
					lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*99/100].Round(time.Millisecond))
			}
			fmt.Fprintf(out, "ratio of steps to baseline commits: %.2f\n", rate/base)
			return nil
		},
	}
	c.Flags().IntVar(&runs, "runs", 2000, "runs to start")
	c.Flags().IntVar(&workers, "workers", 32, "engine workers")
	return c
}

func baselineCommits(path string, n int) (float64, error) {
	db, err := store.Open(path, "full", []store.Migration{`CREATE TABLE j (id INTEGER PRIMARY KEY, data BLOB NOT NULL)`})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	row := make([]byte, 300)
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := db.W.Exec(`INSERT INTO j (data) VALUES (?)`, row); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
