package engine

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/playbook"
)

// firstCall records when each run's first connector call happened.
type firstCall struct {
	*testConn
	mu    sync.Mutex
	first map[string]time.Time
}

func (f *firstCall) Execute(ctx context.Context, c connector.Call) (connector.Result, error) {
	f.mu.Lock()
	if _, ok := f.first[c.RunID]; !ok {
		f.first[c.RunID] = time.Now()
	}
	f.mu.Unlock()
	return f.testConn.Execute(ctx, c)
}

// BenchmarkSteps measures durable steps per second (synchronous=FULL, every
// transition committed before the next step) over concurrent runs of a
// 5-action playbook (7 steps with start and end), and the p99 latency from
// Start to the first connector call of a run.
func BenchmarkSteps(b *testing.B) {
	fc := &firstCall{testConn: &testConn{fails: map[string]int{}}, first: map[string]time.Time{}}
	reg := connector.NewRegistry()
	reg.Register(fc)
	o := Options{Workers: 32, Poll: 20 * time.Millisecond, ClaimBatch: 4, Sync: "full"}
	e := openT(b, dbPath(b), reg, o)
	defer e.Close()
	steps := []*playbook.Step{start("start--1", "action--1")}
	for i := 1; i <= 5; i++ {
		next := "action--" + string(rune('0'+i+1))
		if i == 5 {
			next = "end--1"
		}
		steps = append(steps, act("action--"+string(rune('0'+i)), next, "set", map[string]any{"name": "__x__", "value": "v"}, "__x__"))
	}
	steps = append(steps, end("end--1"))
	pb := vars(newPB("playbook--bench", "start--1", steps...), "__x__", "string", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()

	b.ResetTimer()
	t0 := time.Now()
	started := make(map[string]time.Time, b.N)
	var mu sync.Mutex
	var wg sync.WaitGroup
	per := (b.N + 3) / 4
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g * per; i < min(b.N, (g+1)*per); i++ {
				ts := time.Now()
				id, err := e.Start(context.Background(), pb, 1, nil, "")
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				started[id] = ts
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	for {
		rs, err := e.Runs(context.Background(), RunFilter{Status: StatusSucceeded})
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) >= b.N {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	el := time.Since(t0)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N*7)/el.Seconds(), "steps/s")
	var lat []time.Duration
	fc.mu.Lock()
	for id, ts := range started {
		if f, ok := fc.first[id]; ok {
			lat = append(lat, f.Sub(ts))
		}
	}
	fc.mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-first-step-ms")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-first-step-ms")
	}
}
