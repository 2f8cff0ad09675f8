package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
)

type benchResult struct {
	Name      string
	Events    int64
	Requests  int64
	Failed    int64
	Elapsed   time.Duration
	Latencies []time.Duration
}

func (r benchResult) rate() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

func (r benchResult) pct(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	sort.Slice(r.Latencies, func(i, j int) bool { return r.Latencies[i] < r.Latencies[j] })
	return r.Latencies[min(len(r.Latencies)-1, int(float64(len(r.Latencies))*p))]
}

func benchIngestCmd() *cobra.Command {
	var server, token, syslogAddr string
	var duration time.Duration
	var batch, conns, size int
	c := &cobra.Command{
		Use:   "ingest",
		Short: "Drive a running server with HTTP NDJSON batches and syslog over TCP; print events/s and ack latency",
		Long: `Sends for --duration over loopback, first to a do-nothing HTTP receiver in this
process (the baseline: what the client and loopback can carry), then to the
server's POST /api/v1/events, then syslog over TCP. Prints accepted events per
second, the p50/p99 time to a durable 202, and the ratio to the baseline.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := needToken(token); err != nil {
				return err
			}
			bodies := makeBodies(batch, size)
			out := c.OutOrStdout()

			base := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n, _ := io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusAccepted)
				fmt.Fprintf(w, `{"accepted":%d}`, n)
			}))
			baseline := driveHTTP(base.URL, "", bodies, batch, conns, duration)
			base.Close()
			fmt.Fprintf(out, "baseline (discarding receiver): %10.0f events/s  p50 %-8v p99 %v\n",
				baseline.rate(), baseline.pct(0.5).Round(time.Microsecond), baseline.pct(0.99).Round(time.Microsecond))

			res := driveHTTP(strings.TrimRight(server, "/")+"/api/v1/events", token, bodies, batch, conns, duration)
			if res.Requests == 0 {
				return &exitError{code: 2, err: fmt.Errorf("no request succeeded against %s", server)}
			}
			fmt.Fprintf(out, "riposte HTTP NDJSON (durable):  %10.0f events/s  p50 %-8v p99 %v  (%d batches of %d, %d failed, %d connections)\n",
				res.rate(), res.pct(0.5).Round(time.Microsecond), res.pct(0.99).Round(time.Microsecond), res.Requests, batch, res.Failed, conns)
			fmt.Fprintf(out, "ratio to baseline: %.2f\n", res.rate()/baseline.rate())

			if syslogAddr != "" {
				before, err := scrapeCounter(server, `riposte_ingest_events_accepted_total{source="syslog-tcp"}`)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				sent, el, err := driveSyslog(syslogAddr, conns, duration)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				// Wait for the server to store what was sent.
				var after float64
				deadline := time.Now().Add(30 * time.Second)
				for time.Now().Before(deadline) {
					if after, err = scrapeCounter(server, `riposte_ingest_events_accepted_total{source="syslog-tcp"}`); err == nil && after-before >= float64(sent) {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				stored := after - before
				fmt.Fprintf(out, "riposte syslog TCP:             %10.0f events/s sent; %.0f of %d stored (%.1f%%)\n",
					float64(sent)/el.Seconds(), stored, sent, 100*stored/float64(sent))
			}
			return nil
		},
	}
	serverFlags(c, &server, &token)
	f := c.Flags()
	f.DurationVar(&duration, "duration", 10*time.Second, "how long each phase sends")
	f.IntVar(&batch, "batch", 1000, "events per HTTP request")
	f.IntVar(&conns, "connections", 4, "parallel connections")
	f.IntVar(&size, "size", 300, "approximate bytes per event")
	f.StringVar(&syslogAddr, "syslog", "127.0.0.1:5514", "syslog TCP address to drive; empty skips syslog")
	return c
}

// makeBodies prepares a few distinct batches up front, so the client spends
// its CPU on sending rather than formatting.
func makeBodies(batch, size int) [][]byte {
	var out [][]byte
	pad := strings.Repeat("x", max(0, size-260))
	for b := 0; b < 8; b++ {
		var buf bytes.Buffer
		for i := 0; i < batch; i++ {
			fmt.Fprintf(&buf, `{"@timestamp":"2026-11-26T10:00:%02d.%03dZ","host":{"name":"web-%02d"},"event":{"action":"ssh_login","outcome":"failure"},"source":{"ip":"203.0.113.%d","port":%d},"user":{"name":"user%d"},"message":"Failed password for user%d from 203.0.113.%d port %d ssh2","pad":"%s"}`+"\n",
				i%60, i%1000, b, i%250, 40000+i%20000, i%97, i%97, i%250, 40000+i%20000, pad)
		}
		out = append(out, buf.Bytes())
	}
	return out
}

func driveHTTP(url, token string, bodies [][]byte, batch, conns int, d time.Duration) benchResult {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	defer tr.CloseIdleConnections()
	var events, reqs, failed atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := w; ctx.Err() == nil; i++ {
				req, _ := http.NewRequest("POST", url, bytes.NewReader(bodies[i%len(bodies)]))
				req.Header.Set("Content-Type", "application/x-ndjson")
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					failed.Add(1)
					if resp.StatusCode == http.StatusTooManyRequests {
						time.Sleep(100 * time.Millisecond)
					}
					continue
				}
				mine = append(mine, time.Since(t0))
				reqs.Add(1)
				events.Add(int64(batch))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return benchResult{Events: events.Load(), Requests: reqs.Load(), Failed: failed.Load(), Elapsed: time.Since(start), Latencies: lat}
}

func driveSyslog(addr string, conns int, d time.Duration) (int64, time.Duration, error) {
	var sent atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			var buf bytes.Buffer
			for i := 0; time.Now().Before(deadline); i++ {
				buf.Reset()
				for k := 0; k < 200; k++ {
					msg := fmt.Sprintf("<38>1 2026-11-26T10:00:00.000Z host-%d sshd %d - - Failed password for invalid user admin%d from 198.51.100.%d port %d ssh2",
						w, 1000+k, k, k%250, 50000+k)
					buf.WriteString(strconv.Itoa(len(msg)))
					buf.WriteByte(' ')
					buf.WriteString(msg)
				}
				if _, err := c.Write(buf.Bytes()); err != nil {
					errs <- err
					return
				}
				sent.Add(200)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	select {
	case err := <-errs:
		return sent.Load(), el, err
	default:
	}
	return sent.Load(), el, nil
}

func scrapeCounter(server, series string) (float64, error) {
	resp, err := http.Get(strings.TrimRight(server, "/") + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, series+" ") {
			return strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, series)), 64)
		}
	}
	return 0, nil
}
