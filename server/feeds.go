package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/detect/intel"
)

// readFeed reads one file or folder feed.
func readFeed(f config.Feed) (intel.Result, error) {
	switch f.Type {
	case "stix":
		r, err := os.Open(f.Path)
		if err != nil {
			return intel.Result{}, err
		}
		defer r.Close()
		return intel.ImportSTIX(r, f.Name)
	case "misp":
		return intel.ImportMISPFeedDir(f.Path, f.Name)
	case "csv":
		r, err := os.Open(f.Path)
		if err != nil {
			return intel.Result{}, err
		}
		defer r.Close()
		kind := intel.Kind("")
		if f.Kind != "" {
			k, err := intel.ParseKind(f.Kind)
			if err != nil {
				return intel.Result{}, err
			}
			kind = k
		}
		return intel.ImportCSV(r, intel.CSVOptions{Feed: f.Name, Kind: kind, Confidence: f.Confidence})
	}
	return intel.Result{}, fmt.Errorf("feed type %q is not read from a path", f.Type)
}

// loadFeeds reads every configured file and folder feed once now, then
// again at its refresh interval; a feed that fails keeps its last good
// indicators. Each node of a cluster reads these itself: the path is one
// of its own disk, which the other nodes may not have. TAXII feeds are
// polled by startTAXIIFeeds, once per cluster.
func loadFeeds(ctx context.Context, cfg config.Intel, ix *intel.Index, log *slog.Logger) {
	for _, f := range cfg.Feeds {
		f := f
		if f.Type == "taxii" {
			continue
		}
		load := func() {
			res, err := readFeed(f)
			if err != nil {
				log.Error("intel feed not read", "feed", f.Name, "err", err)
				return
			}
			if err := ix.Replace(f.Name, res.Indicators); err != nil {
				log.Error("intel feed not indexed", "feed", f.Name, "err", err)
				return
			}
			log.Info("intel feed loaded", "feed", f.Name, "indicators", len(res.Indicators), "errors", res.Errors, "warnings", res.Warnings)
			for i, p := range res.Problems {
				if i == 10 {
					break
				}
				log.Warn("intel feed problem", "feed", f.Name, "problem", p.Error())
			}
		}
		load()
		if f.Refresh > 0 {
			go func() {
				t := time.NewTicker(f.Refresh.D())
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
						load()
					}
				}
			}()
		}
	}
}

// taxiiClient is the client of a configured TAXII feed.
func taxiiClient(f config.Feed, hc *http.Client) *intel.TAXIIClient {
	c := &intel.TAXIIClient{BaseURL: f.URL, Collection: f.Collection, User: f.User, Feed: f.Name, HTTPClient: hc}
	if f.PasswordEnv != "" {
		c.Password = os.Getenv(f.PasswordEnv)
	}
	return c
}

// pollTAXII adds what a collection published since the last poll (a
// node alone; see feeds_cluster.go for a cluster).
func pollTAXII(ctx context.Context, c *intel.TAXIIClient, f config.Feed, ix *intel.Index, log *slog.Logger) {
	every := f.Refresh.D()
	if every <= 0 {
		every = time.Hour
	}
	var after time.Time
	for {
		inds, next, err := c.Poll(ctx, after)
		if err != nil {
			log.Warn("taxii poll failed", "feed", f.Name, "err", err)
		} else {
			if err := ix.Add(f.Name, inds); err != nil {
				log.Warn("taxii indicators not indexed", "feed", f.Name, "err", err)
			}
			after = next
			log.Info("taxii polled", "feed", f.Name, "indicators", len(inds))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
