package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/detect"
	"github.com/riposte-soar/riposte/detect/correlate"
	"github.com/riposte-soar/riposte/detect/intel"
	"github.com/riposte-soar/riposte/detect/rules"
	"github.com/riposte-soar/riposte/detect/sigma"
	"github.com/riposte-soar/riposte/rulestore"
	"github.com/riposte-soar/riposte/store"
)

// detection is the detect stage of a node.
type detection struct {
	manager *detect.Manager
	engine  *detect.Engine
	cons    jetstream.Consumer
	js      jetstream.JetStream
	index   *intel.Index
	state   *correlate.Store
	// router is set in a cluster: matches go to correlation partitions.
	router *detect.Router
}

// setupDetect loads the rules into the store and the engine. It runs before
// any source starts, so its consumer exists when the first event arrives.
func setupDetect(ctx context.Context, cfg config.Config, b *bus.Bus, ctl *store.DB, reg prometheus.Registerer, log *slog.Logger) (*detection, error) {
	mapping := sigma.DefaultMapping()
	if cfg.Detect.Mapping != "" {
		data, err := os.ReadFile(cfg.Detect.Mapping)
		if err != nil {
			return nil, fmt.Errorf("detect.mapping: %w", err)
		}
		if mapping, err = sigma.LoadMapping(data); err != nil {
			return nil, fmt.Errorf("detect.mapping %s: %w", cfg.Detect.Mapping, err)
		}
	}
	if _, err := b.EnsureAlerts(ctx, 30*24*time.Hour, 4<<30); err != nil {
		return nil, err
	}
	_, js, err := b.Connect("detect")
	if err != nil {
		return nil, err
	}
	cons, err := detect.EnsureConsumer(ctx, js)
	if err != nil {
		return nil, fmt.Errorf("detect consumer: %w", err)
	}
	state, err := correlate.OpenStore(DBTarget(cfg, "correlation.db"))
	if err != nil {
		return nil, fmt.Errorf("correlation state: %w", err)
	}
	logSync(ctx, log, cfg, "correlation.db", state)
	empty, _ := detect.Build(nil, mapping)
	d := &detection{cons: cons, js: js, index: intel.NewIndex(intel.Config{}), state: state}
	d.engine = detect.NewEngine(empty, d.index, correlate.Options{MaxGroupsPerRule: cfg.Detect.Correlation.MaxGroups})
	d.index.SetMinConfidence(cfg.Detect.Intel.MinConfidence)
	d.manager = &detect.Manager{Store: rulestore.New(ctl), Engine: d.engine, Mapping: mapping, Log: log}
	if cfg.Detect.DefaultRules {
		added, _, errs := d.manager.Import(ctx, rules.Default, "default", "system", false)
		for _, e := range errs {
			log.Error("default rule not imported", "err", e.Error())
		}
		if added > 0 {
			log.Info("default rules imported", "rules", added)
		}
	}
	for _, p := range cfg.Detect.Rules {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		dir, root := abs, "."
		if st, err := os.Stat(abs); err == nil && !st.IsDir() {
			dir, root = filepath.Dir(abs), filepath.Base(abs)
		}
		added, updated, errs := d.manager.Import(ctx, os.DirFS(dir), root, "config", true)
		log.Info("rules imported", "path", p, "added", added, "updated", updated, "not_loaded", len(errs))
		for i, e := range errs {
			if i == 20 {
				log.Warn("more rules not imported; run riposte rules lint on the folder", "count", len(errs)-20)
				break
			}
			log.Warn("rule not imported", "err", e.Error())
		}
	}
	if err := d.manager.Reload(ctx); err != nil {
		return nil, err
	}
	d.engine.Correlations(func(e *correlate.Engine) {
		n, err := state.Load(ctx, e)
		if err != nil {
			log.Warn("correlation state not restored", "err", err)
		} else if n > 0 {
			log.Info("correlation state restored", "groups", n)
		}
	})
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "riposte_detect_rule_matches_total", Help: "Rule matches on events.",
	}, func() float64 { m, _ := d.engine.Counts(); return float64(m) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "riposte_detect_alerts_total", Help: "Alerts raised (before suppression by correlations).",
	}, func() float64 { _, a := d.engine.Counts(); return float64(a) }))
	reg.MustRegister(&correlationMetrics{engine: d.engine, max: cfg.Detect.Correlation.MaxGroups})
	loadFeeds(ctx, cfg.Detect.Intel, d.index, log)
	return d, nil
}

// run consumes events until ctx ends. Correlation state is saved before
// each batch of events is acknowledged (and every 5 s for windows that
// close on the clock, and on the way out), so a restart resumes counting
// exactly where the acknowledged events left it.
func (d *detection) run(ctx context.Context, b *bus.Bus, log *slog.Logger) {
	save := func() {
		d.engine.Correlations(func(e *correlate.Engine) {
			if _, err := d.state.Save(context.WithoutCancel(ctx), e); err != nil {
				log.Warn("correlation state not saved", "err", err)
			}
		})
	}
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				save()
			}
		}
	}()
	beforeAck := func() error {
		if d.router != nil {
			if err := d.router.Flush(ctx); err != nil {
				return fmt.Errorf("correlation matches not sent: %w", err)
			}
		}
		save()
		return nil
	}
	if err := detect.Run(ctx, d.cons, d.engine, detect.Publisher{JS: d.js}, beforeAck, log); err != nil {
		log.Error("detection stopped", "err", err)
	}
	save()
	d.state.Close()
}

// correlationMetrics exposes the size of each correlation's state and the
// groups it evicted, so that state pressure (a flood of group keys meant to
// push evidence out) shows on /metrics as well as in its alert.
type correlationMetrics struct {
	engine *detect.Engine
	max    int
}

var (
	corrGroupsDesc = prometheus.NewDesc("riposte_correlation_groups",
		"Groups (group-by values) a correlation keeps in memory.", []string{"correlation"}, nil)
	corrEvictedDesc = prometheus.NewDesc("riposte_correlation_evictions_total",
		"Groups a correlation evicted because its state was full.", []string{"correlation"}, nil)
	corrMaxDesc = prometheus.NewDesc("riposte_correlation_max_groups",
		"The most groups one correlation keeps (detect.correlation.max_groups).", nil, nil)
)

func (m *correlationMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- corrGroupsDesc
	ch <- corrEvictedDesc
	ch <- corrMaxDesc
}

func (m *correlationMetrics) Collect(ch chan<- prometheus.Metric) {
	var st correlate.Stats
	m.engine.Correlations(func(e *correlate.Engine) { st = e.Stats() })
	ch <- prometheus.MustNewConstMetric(corrMaxDesc, prometheus.GaugeValue, float64(m.max))
	for key, rs := range st.Rules {
		ch <- prometheus.MustNewConstMetric(corrGroupsDesc, prometheus.GaugeValue, float64(rs.Groups), key)
		ch <- prometheus.MustNewConstMetric(corrEvictedDesc, prometheus.CounterValue, float64(rs.Evicted), key)
	}
}
