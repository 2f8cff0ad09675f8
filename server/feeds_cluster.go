package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/cluster"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/detect/intel"
)

// FeedsBucket is the object store holding, per TAXII feed, the indicator
// set its polling node last read, so every node indexes it without
// polling the server itself.
const FeedsBucket = "riposte_feeds"

// Object metadata keys of a feed's object.
const (
	// metaAddedAfter is the poll cursor: the watermark (X-TAXII-Date-Added-Last)
	// the indicators of the object reach, RFC 3339. A node taking the feed
	// over polls from it, not from the beginning.
	metaAddedAfter = "added-after"
	metaNode       = "node"
	metaFence      = "fence"
	metaIndicators = "indicators"
)

// taxiiFeeds runs the TAXII feeds of one node.
type taxiiFeeds struct {
	feeds []config.Feed
	ix    *intel.Index
	rt    *cluster.Runtime
	obs   jetstream.ObjectStore // nil when alone
	// hc is the HTTP client of the TAXII clients (nil: their default).
	hc  *http.Client
	log *slog.Logger
}

// startTAXIIFeeds polls the configured TAXII feeds into ix. A node alone
// polls them itself, as it always did. In a cluster each feed is polled by
// the node holding its lease (FeedJob), which stores the feed's whole
// indicator set and cursor in FeedsBucket; every node indexes what the
// bucket holds, so detection on any node sees every feed while the TAXII
// server sees one client per feed. It returns once the feeds already in
// the bucket are indexed: a node that joins has them before it detects.
func startTAXIIFeeds(ctx context.Context, cfg config.Intel, ix *intel.Index, b *bus.Bus, rt *cluster.Runtime, log *slog.Logger) error {
	return startTAXIIFeedsWith(ctx, cfg, ix, b, rt, nil, log)
}

// startTAXIIFeedsWith is startTAXIIFeeds with the TAXII clients' HTTP
// client (nil: their default).
func startTAXIIFeedsWith(ctx context.Context, cfg config.Intel, ix *intel.Index, b *bus.Bus, rt *cluster.Runtime, hc *http.Client, log *slog.Logger) error {
	t := &taxiiFeeds{ix: ix, rt: rt, hc: hc, log: log}
	for _, f := range cfg.Feeds {
		if f.Type == "taxii" {
			t.feeds = append(t.feeds, f)
		}
	}
	if len(t.feeds) == 0 {
		return nil
	}
	if !rt.Alone() {
		// Replicated like every bucket of the node (bus.Replicas).
		obs, err := b.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: FeedsBucket,
			Description: "riposte TAXII feeds: each feed's indicators and poll cursor",
			Storage:     jetstream.FileStorage, Replicas: b.Replicas})
		if err != nil {
			return fmt.Errorf("object store %s: %w", FeedsBucket, err)
		}
		t.obs = obs
	}
	return t.start(ctx)
}

func (t *taxiiFeeds) start(ctx context.Context) error {
	if t.obs == nil {
		for _, f := range t.feeds {
			go pollTAXII(ctx, taxiiClient(f, t.hc), f, t.ix, t.log)
		}
		return nil
	}
	if err := t.follow(ctx); err != nil {
		return err
	}
	for _, f := range t.feeds {
		go t.rt.Singleton(ctx, FeedJob(f.Name), func(ctx context.Context, fence uint64) { t.poll(ctx, f, fence) })
	}
	return nil
}

// leaseKey is what a KV key may hold (NATS KV keys).
var leaseKey = regexp.MustCompile(`^[-_=a-zA-Z0-9]+$`)

// FeedJob is the lease name of a TAXII feed: "feed.<name>", or the name's
// hash when it has characters a lease key cannot hold.
func FeedJob(name string) string {
	if leaseKey.MatchString(name) {
		return "feed." + name
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return "feed." + hex.EncodeToString(h.Sum(nil))
}

// follow indexes the feeds the bucket holds now, then each new version
// as it is stored, until ctx ends.
func (t *taxiiFeeds) follow(ctx context.Context) error {
	w, err := t.obs.Watch(ctx) // the current object of each name, then updates
	if err != nil {
		return fmt.Errorf("watch %s: %w", FeedsBucket, err)
	}
	ours := map[string]bool{}
	for _, f := range t.feeds {
		ours[f.Name] = true
	}
	apply := func(info *jetstream.ObjectInfo) {
		if !ours[info.Name] {
			return // a feed of another node's configuration
		}
		if info.Deleted {
			t.ix.RemoveFeed(info.Name)
			return
		}
		// A read can meet the object while its holder replaces it (the
		// old chunks go once the new ones are in): read again shortly.
		var inds []intel.Indicator
		var err error
		for try := 0; try < 10; try++ {
			if inds, _, err = t.read(ctx, info.Name); err == nil || ctx.Err() != nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(try+1) * 200 * time.Millisecond):
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				t.log.Error("taxii feed not read from the cluster", "feed", info.Name, "err", err)
			}
			return
		}
		if err := t.ix.Replace(info.Name, inds); err != nil {
			t.log.Warn("taxii indicators not indexed", "feed", info.Name, "err", err)
		}
	}
	// The initial values end with a nil; wait for them, not for ever: a
	// node whose bus is slow starts anyway and catches up when they come.
	initial := time.NewTimer(30 * time.Second)
	defer initial.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			_ = w.Stop()
			return ctx.Err()
		case <-initial.C:
			t.log.Warn("taxii feeds: the cluster's copy not read within 30s; indexing it when it comes")
			break wait
		case info, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch %s: ended", FeedsBucket)
			}
			if info == nil {
				break wait
			}
			apply(info)
		}
	}
	go func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case info, ok := <-w.Updates():
				if !ok {
					return
				}
				if info != nil {
					apply(info)
				}
			}
		}
	}()
	return nil
}

// read returns a feed's stored indicators and cursor (none stored: nil,
// zero time, no error).
func (t *taxiiFeeds) read(ctx context.Context, name string) ([]intel.Indicator, time.Time, error) {
	r, err := t.obs.Get(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	defer r.Close()
	info, err := r.Info()
	if err != nil {
		return nil, time.Time{}, err
	}
	var after time.Time
	if s := info.Metadata[metaAddedAfter]; s != "" {
		if after, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, time.Time{}, fmt.Errorf("cursor %q: %w", s, err)
		}
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, time.Time{}, err
	}
	var inds []intel.Indicator
	if err := json.NewDecoder(zr).Decode(&inds); err != nil {
		return nil, time.Time{}, err
	}
	// Reading to the end checks the object's digest.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, time.Time{}, err
	}
	return inds, after, nil
}

// write stores a feed's whole indicator set and cursor.
func (t *taxiiFeeds) write(ctx context.Context, name string, inds []intel.Indicator, after time.Time, fence uint64) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(inds); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	meta := map[string]string{metaNode: t.rt.Node(), metaFence: strconv.FormatUint(fence, 10),
		metaIndicators: strconv.Itoa(len(inds))}
	if !after.IsZero() {
		meta[metaAddedAfter] = after.UTC().Format(time.RFC3339Nano)
	}
	_, err := t.obs.Put(ctx, jetstream.ObjectMeta{Name: name, Description: "TAXII feed indicators (gzipped JSON)",
		Metadata: meta}, &buf)
	return err
}

// poll polls feed f while this node holds its lease: it continues from
// the set and cursor the bucket holds (the previous holder's), adds each
// poll's indicators to them and stores the whole set when it changed.
func (t *taxiiFeeds) poll(ctx context.Context, f config.Feed, fence uint64) {
	every := f.Refresh.D()
	if every <= 0 {
		every = time.Hour
	}
	c := taxiiClient(f, t.hc)
	// The feed alone, merged as the node index merges it (newer versions
	// of an object replace older ones).
	acc := intel.NewIndex(intel.Config{})
	var after time.Time
	for {
		inds, cur, err := t.read(ctx, f.Name)
		if err == nil {
			if err := acc.Replace(f.Name, inds); err != nil {
				t.log.Warn("taxii feed: stored indicators not all kept", "feed", f.Name, "err", err)
			}
			after = cur
			break
		}
		if ctx.Err() != nil {
			return
		}
		t.log.Warn("taxii feed: stored state not read; retrying", "feed", f.Name, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	t.log.Info("taxii feed: polling for the cluster", "feed", f.Name, "fence", fence, "added_after", stampOrEmpty(after))
	for {
		inds, next, err := c.Poll(ctx, after)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				t.log.Warn("taxii poll failed", "feed", f.Name, "err", err)
			}
		case len(inds) == 0 && next.Equal(after):
			// nothing new: the stored copy is current
		default:
			if err := acc.Add(f.Name, inds); err != nil {
				t.log.Warn("taxii indicators not all kept", "feed", f.Name, "err", err)
			}
			if err := t.write(ctx, f.Name, acc.Indicators(), next, fence); err != nil {
				// The cursor stays: the next poll reads these again.
				t.log.Warn("taxii feed not stored for the cluster", "feed", f.Name, "err", err)
				break
			}
			after = next
			t.log.Info("taxii polled", "feed", f.Name, "indicators", len(inds), "total", acc.Len())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func stampOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
