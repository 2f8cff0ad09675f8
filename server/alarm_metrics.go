package server

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riposte-soar/riposte/alarm"
)

// alarmCollector exposes the response metrics of the last 30 days; the
// figures are computed at most every 15 s, whatever the scrape rate.
type alarmCollector struct {
	svc   *alarm.Service
	mu    sync.Mutex
	at    time.Time
	cache alarm.ResponseMetrics

	open, seconds, incidents, held *prometheus.Desc
}

func registerAlarmMetrics(svc *alarm.Service, reg prometheus.Registerer) {
	reg.MustRegister(&alarmCollector{svc: svc,
		open:      prometheus.NewDesc("riposte_incidents_open", "Open incidents created in the last 30 days, by priority.", []string{"priority"}, nil),
		incidents: prometheus.NewDesc("riposte_incidents_by_verdict", "Incidents created in the last 30 days, by verdict.", []string{"verdict"}, nil),
		seconds: prometheus.NewDesc("riposte_response_seconds", "Response times over incidents of the last 30 days: time to detect, acknowledge, contain, resolve.",
			[]string{"step", "stat"}, nil),
		held: prometheus.NewDesc("riposte_alerts_held", "Alerts held by silences or inhibition.", []string{"by"}, nil),
	})
}

func (c *alarmCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.incidents
	ch <- c.seconds
	ch <- c.held
}

func (c *alarmCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if time.Since(c.at) > 15*time.Second {
		now := time.Now().UTC()
		if m, err := c.svc.Store().ResponseMetrics(context.Background(), now.Add(-30*24*time.Hour), now.Add(time.Minute)); err == nil {
			c.cache, c.at = m, now
		}
	}
	m := c.cache
	c.mu.Unlock()
	open := map[string]int{"P1": 0, "P2": 0, "P3": 0, "P4": 0}
	if m.Incidents > 0 {
		incs, err := c.svc.Store().List(context.Background(), alarm.Filter{Statuses: []alarm.Status{alarm.StatusNew, alarm.StatusTriaged,
			alarm.StatusContained, alarm.StatusEradicated, alarm.StatusRecovered}, Limit: 1000})
		if err == nil {
			for _, in := range incs {
				open[in.Priority]++
			}
		}
	}
	for p, n := range open {
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(n), p)
	}
	for v, n := range m.ByVerdict {
		ch <- prometheus.MustNewConstMetric(c.incidents, prometheus.GaugeValue, float64(n), v)
	}
	for _, s := range []struct {
		step string
		st   alarm.Stat
	}{{"detect", m.MTTD}, {"acknowledge", m.MTTA}, {"contain", m.MTTC}, {"resolve", m.MTTR}} {
		ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, s.st.Mean, s.step, "mean")
		ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, s.st.P90, s.step, "p90")
	}
	for by, n := range m.Held {
		ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, float64(n), by)
	}
}
