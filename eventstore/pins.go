package eventstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/bus"
)

// Retention bounds the store.
type Retention struct {
	MaxAge   time.Duration // 0: keep forever
	MaxBytes int64         // 0: no size bound
	// PinnedShare is the share of MaxBytes that events pinned by alerts may
	// take (0 < share <= 1; 0 means DefaultPinnedShare). Beyond it the
	// oldest pins expire, so a flood of alerts cannot pin the whole store.
	PinnedShare float64
}

// DefaultPinnedShare is the share of retention.max_bytes pins may hold.
const DefaultPinnedShare = 0.25

// Pruned says what one retention run did.
type Pruned struct {
	Events      int64 // events deleted, by age and by size
	PinsExpired int64 // pins dropped: over the pinned share (oldest first) or past max_age
	PinnedBytes int64 // estimated bytes of pinned events (and the pins) after the run
	// OverBytes is how far the store stays above MaxBytes because every
	// event left is pinned; 0 when the bound was met.
	OverBytes int64
}

// Pin marks an event as evidence of an alert.
type Pin struct {
	EventID string
	AlertID string
	At      time.Time // when the alert was raised: newer pins outlive older ones
}

// PinsFromAlerts lists the pins for the events alerts reference
// (a correlation's alert lists the events it counted).
func PinsFromAlerts(as []alert.Alert, now time.Time) []Pin {
	var out []Pin
	for i := range as {
		a := &as[i]
		at := a.Detected
		if at.IsZero() {
			at = now
		}
		for _, id := range a.EventIDs {
			if id != "" {
				out = append(out, Pin{EventID: id, AlertID: a.ID, At: at})
			}
		}
	}
	return out
}

// Pin records pins. A pin for an event not stored yet is kept: the event
// store and detection read the events stream independently, so an alert can
// arrive before its events are written. Pinning again refreshes the pin.
func (s *Store) Pin(ctx context.Context, pins []Pin) error {
	const perStmt = 200
	ph := "(?,?,?)"
	pins = latestPins(pins)
	return s.tx(ctx, func(tx *sql.Tx) error {
		args := make([]any, 0, perStmt*3)
		for lo := 0; lo < len(pins); lo += perStmt {
			chunk := pins[lo:min(lo+perStmt, len(pins))]
			args = args[:0]
			for _, p := range chunk {
				args = append(args, p.EventID, p.AlertID, p.At.UnixNano())
			}
			q := `INSERT INTO pins (event_id, alert_id, pinned) VALUES ` + ph + strings.Repeat(","+ph, len(chunk)-1) +
				` ON CONFLICT (event_id) DO UPDATE SET alert_id = excluded.alert_id, pinned = excluded.pinned
				  WHERE excluded.pinned > pins.pinned`
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// pinBytes estimates what a pin holds in the database: its event's row and
// index entries (if the event is stored) and the pin row itself. Pin rows
// count too, so pins for events never stored are bounded by the same share.
const pinBytes = `coalesce(` + eventBytes + `, 0) + length(p.event_id) + length(p.alert_id) + 24`

// eventBytes estimates the bytes of event row e with its index entries.
const eventBytes = `octet_length(e.raw) + octet_length(e.fields) + 2*octet_length(e.host) +
	length(e.source) + length(e.product) + length(e.service) + length(e.category) + 3*length(e.id) + 48`

// Prune deletes events older than MaxAge, then the oldest unpinned events
// until the database's used pages fit MaxBytes. It deletes in slices so
// ingest, which shares the writer, is never held up for long.
//
// Age is the operator's explicit choice and applies to every event; size is
// what an attacker controls by sending more, so size never removes the
// evidence behind an alert, only pins past PinnedShare of MaxBytes, the
// oldest first.
func (s *Store) Prune(ctx context.Context, r Retention, now time.Time) (Pruned, error) {
	var out Pruned
	if r.MaxAge > 0 {
		cut := now.Add(-r.MaxAge).UnixNano()
		if s.pg {
			// Whole days past the cut go at once, partition by partition;
			// the DELETE below takes the rest of the day the cut falls in.
			n, err := s.dropPartitions(ctx, cut)
			out.Events += n
			if err != nil {
				return out, err
			}
		}
		for {
			res, err := s.db.W.ExecContext(ctx,
				`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time < ? ORDER BY time LIMIT 5000)`, cut)
			if err != nil {
				return out, err
			}
			n, _ := res.RowsAffected()
			out.Events += n
			if n < 5000 {
				break
			}
		}
		res, err := s.db.W.ExecContext(ctx, `DELETE FROM pins WHERE pinned < ?`, cut)
		if err != nil {
			return out, err
		}
		n, _ := res.RowsAffected()
		out.PinsExpired += n
	}
	if r.MaxBytes <= 0 {
		return out, nil
	}
	share := r.PinnedShare
	if share <= 0 || share > 1 {
		share = DefaultPinnedShare
	}
	budget := int64(float64(r.MaxBytes) * share)
	// The running total, newest pins first, is computed on the read
	// connection (a scan of every pin): ingest shares the writer, which
	// only deletes the pins older than where the total passes the budget.
	var cutoff sql.NullInt64
	err := s.db.R.QueryRowContext(ctx, `SELECT pinned FROM (
			SELECT p.pinned, sum(`+pinBytes+`) OVER (ORDER BY p.pinned DESC, p.event_id DESC ROWS UNBOUNDED PRECEDING) AS total
			FROM pins p LEFT JOIN events e ON e.id = p.event_id) AS running
		WHERE total > ? LIMIT 1`, budget).Scan(&cutoff)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return out, fmt.Errorf("pinned bytes: %w", err)
	}
	for cutoff.Valid {
		res, err := s.db.W.ExecContext(ctx, `DELETE FROM pins WHERE event_id IN (
			SELECT event_id FROM pins WHERE pinned <= ? ORDER BY pinned LIMIT 5000)`, cutoff.Int64)
		if err != nil {
			return out, fmt.Errorf("expire pins: %w", err)
		}
		n, _ := res.RowsAffected()
		out.PinsExpired += n
		if n < 5000 {
			break
		}
	}
	if err := s.db.R.QueryRowContext(ctx, `SELECT coalesce(sum(`+pinBytes+`), 0) FROM pins p LEFT JOIN events e ON e.id = p.event_id`).
		Scan(&out.PinnedBytes); err != nil {
		return out, err
	}
	for {
		used, err := s.usedBytes(ctx)
		if err != nil {
			return out, err
		}
		if used <= r.MaxBytes {
			return out, nil
		}
		// Delete a share of the rows proportional to the excess, at
		// least one slice, so large excesses converge quickly.
		var count int64
		if err := s.db.W.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&count); err != nil || count == 0 {
			out.OverBytes = used - r.MaxBytes
			return out, err
		}
		k := count*(used-r.MaxBytes)/used + 1
		k = min(max(k, 100), 5000)
		res, err := s.db.W.ExecContext(ctx, `DELETE FROM events WHERE id IN (SELECT id FROM events
			WHERE NOT EXISTS (SELECT 1 FROM pins WHERE pins.event_id = events.id) ORDER BY time LIMIT ?)`, k)
		if err != nil {
			return out, err
		}
		n, _ := res.RowsAffected()
		out.Events += n
		if n == 0 {
			// All that is left is pinned (the estimate of pinned bytes
			// is short of the pages they take, or the share is near 1).
			out.OverBytes = used - r.MaxBytes
			return out, nil
		}
	}
}

// PinConsumerName is the event store's durable consumer on the alerts
// stream.
const PinConsumerName = "eventstore-pins"

// EnsurePinConsumer creates the consumer through which the store learns
// which events are evidence.
//
// Why the store reads the alerts stream rather than detection writing pins:
// data then flows one way (ingest -> detection -> alerts -> consumers), the
// event store stays the only writer of events.db, detection keeps no handle
// on the store (it runs on nodes without one when scaled out), and pins are
// acknowledged only once written, so a crash redelivers them. The alerts
// stream keeps history (limits retention), so pins are not lost while the
// store is down, and this consumer holds nothing there for anyone else.
func EnsurePinConsumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	return js.CreateOrUpdateConsumer(ctx, bus.AlertsStream, jetstream.ConsumerConfig{
		Durable:       PinConsumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       15 * time.Second,
		MaxAckPending: 4096,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
}

// ConsumePins writes pins for the alerts on the stream until ctx ends.
func (s *Store) ConsumePins(ctx context.Context, cons jetstream.Consumer, log *slog.Logger) {
	for ctx.Err() == nil {
		batch, err := bus.Fetch(cons, 64, bus.FetchBytes, 100*time.Millisecond)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("event store: alerts fetch failed", "err", err)
				time.Sleep(200 * time.Millisecond)
			}
			continue
		}
		var msgs []jetstream.Msg
		var alerts []alert.Alert
		for _, m := range batch {
			as, err := alert.DecodeMessage(m.Data())
			if err != nil {
				log.Error("event store: undecodable alert message skipped; its events are not pinned", "err", err)
				_ = m.Term()
				continue
			}
			msgs = append(msgs, m)
			alerts = append(alerts, as...)
		}
		if len(msgs) == 0 {
			continue
		}
		if err := s.Pin(context.WithoutCancel(ctx), PinsFromAlerts(alerts, time.Now().UTC())); err != nil {
			// Left unacknowledged: delivered again after AckWait.
			log.Error("event store: pins not written; they will be delivered again", "alerts", len(alerts), "err", err)
			continue
		}
		for _, m := range msgs {
			_ = m.Ack()
		}
	}
}

// Pinned reports whether an event is pinned.
func (s *Store) Pinned(ctx context.Context, eventID string) (bool, error) {
	var n int
	err := s.db.R.QueryRowContext(ctx, `SELECT count(*) FROM pins WHERE event_id = ?`, eventID).Scan(&n)
	return n > 0, err
}
