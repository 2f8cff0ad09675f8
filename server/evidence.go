package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/riposte-soar/riposte/blob"
	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/fleet"
)

// useEvidenceStore points the fleet at the evidence store evidence.store
// names; files, the default, is the data directory's evidence/ the fleet
// was given. The returned function closes the store.
func useEvidenceStore(ctx context.Context, cfg config.Config, b *bus.Bus, agents *fleet.Fleet, log *slog.Logger) (func(), error) {
	switch cfg.Evidence.Store {
	case "nats":
		s, err := blob.OpenNATS(ctx, b)
		if err != nil {
			return nil, fmt.Errorf("evidence.store nats: %w", err)
		}
		agents.SetBlobs(s)
		log.Info("evidence store", "store", "nats", "bucket", blob.Bucket, "replicas", b.Replicas)
		return func() {}, nil
	case "postgres":
		s, err := blob.OpenSQL(ctx, cfg.Database.URL)
		if err != nil {
			return nil, fmt.Errorf("evidence.store postgres: %w", err)
		}
		agents.SetBlobs(s)
		log.Info("evidence store", "store", "postgres", "schema", blob.Schema.Name)
		return func() { s.Close() }, nil
	}
	return func() {}, nil
}
