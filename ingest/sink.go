package ingest

import (
	"context"

	"github.com/riposte-soar/riposte/event"
)

// Sink stores a batch of normalized events durably. Submit returns nil only
// once every event of the batch is stored; a source acknowledges its sender
// after that and never before. A non-nil error means none of the batch can be
// counted as stored: the source must report the failure to its sender (or
// retry) and must not advance past the batch.
//
// dedupKey, when not empty, names the batch so that submitting the same batch
// again (a sender's retry, a file re-read after a crash) stores it once.
type Sink interface {
	Submit(ctx context.Context, batch []event.Event, dedupKey string) error
}
