// Package file is the file-tail ingest source: it follows one log file by
// polling it (stat, no inotify, so it works on every platform and file
// system), turns each line into an event.Event and hands the lines to an
// ingest.Sink in batches.
//
// Its position (device/inode, offset and a fingerprint of the first bytes) is
// kept in a state file that is replaced atomically after every stored batch,
// so across restarts no line is stored twice or skipped. It follows rotation
// by rename (the old file is read to its end through the open descriptor, then
// the new one from offset 0) and by copy-and-truncate (a file that shrinks
// below the offset is read again from 0). Every batch is submitted with a
// dedup key naming its byte range, and the range is written to the state file
// before Submit, so a batch re-read after a crash between Submit and the state
// write is submitted again identically and stored once.
//
// See README.md for the options and the exact guarantees and limits.
package file

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/ingest"
)

// SampleConfig is an example of the riposte configuration for this source.
//
//go:embed sample.conf
var SampleConfig string

const (
	defaultPollInterval = 250 * time.Millisecond
	defaultMaxLineBytes = 256 << 10
	defaultBatchLines   = 1000

	// maxBatchBytes ends a batch early when its lines add up to this many
	// bytes, so a batch never holds BatchLines × MaxLineBytes in memory.
	maxBatchBytes = 8 << 20
	// rotateIdlePolls is how many polls a rotated file must stay unchanged
	// before it is finished (its unterminated last line, if any, is taken as
	// a line) and the tailer moves to the new file.
	rotateIdlePolls = 4
	// fingerprintBytes is how many of the first bytes identify a file.
	fingerprintBytes = 1024
	readChunk        = 64 << 10
	maxBackoff       = 30 * time.Second
)

// Config configures a Tailer. Zero values take the defaults.
type Config struct {
	// Path is the file to follow.
	Path string `yaml:"path"`
	// StartAt is "beginning" or "end" (the default): where to start in a file
	// the tailer has never seen (no state file) and that exists when Run
	// starts. "end" starts at the beginning of the last, unfinished line.
	StartAt string `yaml:"start_at"`
	// PollInterval is how often the file is checked (default 250ms).
	PollInterval time.Duration `yaml:"poll_interval"`
	// MaxLineBytes is the longest accepted line, newline excluded (default
	// 256 KiB). A longer line is rejected: counted, logged and skipped.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// BatchLines is the most lines per Submit (default 1000).
	BatchLines int `yaml:"batch_lines"`
}

// Stats are the tailer's counters since New.
type Stats struct {
	// LinesRead counts the complete lines consumed (stored or rejected).
	LinesRead uint64
	// EventsSubmitted counts events in batches the sink accepted.
	EventsSubmitted uint64
	// LinesRejected counts lines longer than MaxLineBytes.
	LinesRejected uint64
	// Rotations counts switches to a new file at Path (while running, or
	// noticed at start because the identity no longer matched).
	Rotations uint64
	// Truncations counts restarts from offset 0 because the file shrank
	// below the offset.
	Truncations uint64
	// SubmitFailures counts Submit calls that returned an error (retried).
	SubmitFailures uint64
	// Offset is the stored position in the current file.
	Offset int64
}

// Tailer follows one file. Build it with New, then call Run once.
type Tailer struct {
	cfg       Config
	source    string
	statePath string
	sink      ingest.Sink
	build     func(line []byte, ev *event.Event)
	log       *slog.Logger
	buf       []byte

	running atomic.Bool

	linesRead, eventsSubmitted, linesRejected atomic.Uint64
	rotations, truncations, submitFailures    atomic.Uint64
	offset                                    atomic.Int64

	// afterSubmit, when set (tests), runs after Submit returned nil and
	// before the state write; an error stops Run with it, like a crash.
	afterSubmit func() error
}

// New builds a tailer for cfg.Path. statePath is the file where the tailer
// keeps its position across restarts (its directory is created if needed).
// build turns one line, without its newline, into an event: before calling
// it the tailer sets ev.ID, ev.Received, ev.Source ("file:"+Path) and ev.Raw
// (the line itself, which build must not modify); build fills the rest. If
// build leaves ev.Time zero it is set to ev.Received. A nil log discards.
func New(cfg Config, statePath string, sink ingest.Sink, build func(line []byte, ev *event.Event), log *slog.Logger) (*Tailer, error) {
	switch {
	case cfg.Path == "":
		return nil, errors.New("file: Path is required")
	case statePath == "":
		return nil, errors.New("file: statePath is required")
	case sink == nil:
		return nil, errors.New("file: sink is required")
	case build == nil:
		return nil, errors.New("file: build is required")
	case cfg.PollInterval < 0 || cfg.MaxLineBytes < 0 || cfg.BatchLines < 0:
		return nil, errors.New("file: PollInterval, MaxLineBytes and BatchLines must not be negative")
	}
	switch cfg.StartAt {
	case "":
		cfg.StartAt = "end"
	case "beginning", "end":
	default:
		return nil, fmt.Errorf("file: StartAt %q: want \"beginning\" or \"end\"", cfg.StartAt)
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = defaultPollInterval
	}
	if cfg.MaxLineBytes == 0 {
		cfg.MaxLineBytes = defaultMaxLineBytes
	}
	if cfg.BatchLines == 0 {
		cfg.BatchLines = defaultBatchLines
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	source := "file:" + cfg.Path
	return &Tailer{
		cfg:       cfg,
		source:    source,
		statePath: statePath,
		sink:      sink,
		build:     build,
		log:       log.With("source", source),
		buf:       make([]byte, readChunk),
	}, nil
}

// Stats returns the counters; it is safe to call while Run runs.
func (t *Tailer) Stats() Stats {
	return Stats{
		LinesRead:       t.linesRead.Load(),
		EventsSubmitted: t.eventsSubmitted.Load(),
		LinesRejected:   t.linesRejected.Load(),
		Rotations:       t.rotations.Load(),
		Truncations:     t.truncations.Load(),
		SubmitFailures:  t.submitFailures.Load(),
		Offset:          t.offset.Load(),
	}
}

// tailFile is the open file being followed.
type tailFile struct {
	f   *os.File
	id  fileID
	gen uint64 // generation: see state.Generation
	off int64  // first byte not yet stored
	fp  []byte
	// pending is a batch found in the state file at start: it is submitted
	// again, exactly, before anything else.
	pending *span
	// A line longer than MaxLineBytes that has no newline yet starts at
	// skipStart and has been scanned up to skipScan (skipStart < 0: none).
	skipStart, skipScan int64
	lastSize            int64 // size at the previous poll
	quietAt             int64 // size at which the last read found no complete line
	idle                int   // polls without change since Path names another file
}

type stepResult int

const (
	stepIdle stepResult = iota
	stepProgress
	stepFinished
)

// Run follows the file until ctx is done and returns nil then. It returns an
// error only when it cannot start (unreadable or inconsistent state file) or
// is already running. Open and read errors on the followed file, Submit
// errors and state write errors are logged and retried.
func (t *Tailer) Run(ctx context.Context) error {
	if !t.running.CompareAndSwap(false, true) {
		return errors.New("file: Run is already running")
	}
	defer t.running.Store(false)
	if err := os.MkdirAll(filepath.Dir(t.statePath), 0o700); err != nil {
		return fmt.Errorf("file: state directory: %w", err)
	}
	st, err := readState(t.statePath)
	if err != nil {
		return err
	}
	if st != nil && st.Path != t.cfg.Path {
		t.log.Warn("state file is for another path; treating the file as never seen",
			"state", t.statePath, "state_path", st.Path)
		st = nil
	}

	first := true
	var cur *tailFile
	defer func() {
		if cur != nil {
			cur.f.Close()
		}
	}()
	var lastOpenErr string
	for ctx.Err() == nil {
		if cur == nil {
			f, fi, err := openRegular(t.cfg.Path)
			if err != nil {
				if first && st == nil && errors.Is(err, fs.ErrNotExist) {
					// Absent when we start: whatever appears later is new.
					st = t.freshState(0)
					if err := t.saveState(ctx, st); err != nil {
						return t.stopErr(ctx, err)
					}
					first = false
				}
				if msg := err.Error(); msg != lastOpenErr {
					lastOpenErr = msg
					if errors.Is(err, fs.ErrNotExist) {
						t.log.Info("waiting for file to appear")
					} else {
						t.log.Warn("cannot open file; retrying", "err", err)
					}
				}
				if !sleepCtx(ctx, t.cfg.PollInterval) {
					return nil
				}
				continue
			}
			lastOpenErr = ""
			cur, err = t.start(ctx, f, fi, st, first)
			first = false
			if err != nil {
				f.Close()
				return t.stopErr(ctx, err)
			}
			continue
		}
		res, err := t.step(ctx, cur)
		if err != nil {
			return t.stopErr(ctx, err)
		}
		switch res {
		case stepProgress:
			continue
		case stepFinished:
			cur.f.Close()
			st = t.freshState(cur.gen)
			cur = nil
			continue
		}
		if !sleepCtx(ctx, t.cfg.PollInterval) {
			return nil
		}
	}
	return nil
}

// freshState is the state saying that the next file at Path is new.
func (t *Tailer) freshState(gen uint64) *state {
	return &state{Version: stateVersion, Path: t.cfg.Path, Fresh: true, Generation: gen}
}

// stopErr is what Run returns for err: nil when ctx is done.
func (t *Tailer) stopErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func openRegular(path string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", path)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// start decides where to begin in the freshly opened file and records it.
func (t *Tailer) start(ctx context.Context, f *os.File, fi os.FileInfo, st *state, first bool) (*tailFile, error) {
	cur := &tailFile{f: f, id: idOf(fi), skipStart: -1, lastSize: -1, quietAt: -1}
	if st != nil {
		// Unless the file is resumed below, it is a new generation.
		cur.gen = st.Generation + 1
	}
	size := fi.Size()
	switch {
	case st == nil:
		if t.cfg.StartAt == "end" && first {
			cur.off = t.lastLineStart(f, size)
		}
		t.log.Info("following new file", "start_at", t.cfg.StartAt, "offset", cur.off)
	case st.Fresh:
		t.log.Info("following file from its start", "ino", cur.id.Ino)
	case cur.id != st.id():
		t.rotations.Add(1)
		t.log.Warn("file was replaced while stopped; reading the new one from its start (lines written to the old one after the stored position are not read)",
			"old_ino", st.Ino, "ino", cur.id.Ino)
	case size < st.Offset:
		t.truncations.Add(1)
		t.log.Warn("file shrank below the stored position while stopped; reading from its start",
			"offset", st.Offset, "size", size)
	default:
		fp := make([]byte, st.FingerprintLen)
		if _, err := f.ReadAt(fp, 0); err != nil || fingerprint(fp) != st.Fingerprint {
			t.rotations.Add(1)
			t.log.Warn("first bytes of the file changed while stopped; reading it from its start", "err", err)
			break
		}
		cur.off, cur.fp, cur.gen = st.Offset, fp, st.Generation
		if p := st.Pending; p != nil && p.Start == st.Offset && p.End <= size {
			cur.pending = p
		}
		t.log.Info("resuming file", "offset", cur.off, "ino", cur.id.Ino)
	}
	if st != nil && st.Pending != nil && cur.pending == nil {
		t.log.Warn("a batch submitted before the stop cannot be re-read; it may or may not have been stored",
			"start", st.Pending.Start, "end", st.Pending.End)
	}
	t.offset.Store(cur.off)
	if err := t.persist(ctx, cur, cur.pending); err != nil {
		return nil, err
	}
	return cur, nil
}

// lastLineStart returns the offset just after the last newline in f before
// size, looking back at most MaxLineBytes+1 bytes (size when none is found
// in a file longer than that, 0 in a shorter one).
func (t *Tailer) lastLineStart(f *os.File, size int64) int64 {
	n := min(size, int64(t.cfg.MaxLineBytes)+1)
	b := make([]byte, n)
	if _, err := f.ReadAt(b, size-n); err != nil {
		return size
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return size - n + int64(i) + 1
	}
	if n == size {
		return 0
	}
	return size
}

// step does one poll of cur: deliver one batch if there is one, otherwise
// look for truncation and rotation.
func (t *Tailer) step(ctx context.Context, cur *tailFile) (stepResult, error) {
	if p := cur.pending; p != nil {
		b, err := t.readBatch(cur, p.End, true, math.MaxInt, math.MaxInt)
		if err != nil {
			t.log.Warn("re-reading the pending batch failed; retrying", "err", err)
			return stepIdle, nil
		}
		if b.end != p.End {
			// Cannot happen with an unchanged file; start over to be safe.
			t.log.Warn("pending batch could not be re-read in full", "start", p.Start, "end", p.End, "read_to", b.end)
			cur.pending = nil
			return stepProgress, nil
		}
		if err := t.deliver(ctx, cur, b, false); err != nil {
			return stepIdle, err
		}
		cur.pending = nil
		return stepProgress, nil
	}

	fi, err := cur.f.Stat()
	if err != nil {
		t.log.Warn("stat failed; retrying", "err", err)
		return stepIdle, nil
	}
	size := fi.Size()
	if size != cur.lastSize {
		cur.idle = 0
		readTo := cur.off
		if cur.skipStart >= 0 {
			readTo = max(readTo, cur.skipScan)
		}
		if size < readTo || !t.fingerprintMatches(cur) {
			t.truncations.Add(1)
			t.log.Warn("file was truncated; reading it again from its start", "offset", cur.off, "size", size)
			cur.off, cur.fp = 0, nil
			cur.gen++
			cur.skipStart, cur.quietAt = -1, -1
			cur.lastSize = size
			t.offset.Store(0)
			if err := t.persist(ctx, cur, nil); err != nil {
				return stepIdle, err
			}
			return stepProgress, nil
		}
		cur.lastSize = size
	}

	if size != cur.quietAt {
		b, err := t.readBatch(cur, size, false, t.cfg.BatchLines, maxBatchBytes)
		if err != nil {
			t.log.Warn("read failed; retrying", "err", err)
			return stepIdle, nil
		}
		if b.end > cur.off {
			if err := t.deliver(ctx, cur, b, true); err != nil {
				return stepIdle, err
			}
			return stepProgress, nil
		}
		cur.quietAt = size
	}

	// Nothing complete to read: has Path been rotated away from us (it
	// names another file, or nothing)? Other stat errors are not taken as
	// a rotation: finishing the file on a transient error would re-read it.
	pfi, err := os.Stat(t.cfg.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.log.Warn("stat of path failed", "err", err)
		cur.idle = 0
		return stepIdle, nil
	}
	if err == nil && os.SameFile(fi, pfi) {
		cur.idle = 0
		return stepIdle, nil
	}
	cur.idle++
	if cur.idle == 1 {
		t.log.Info("file was rotated; finishing the old one", "ino", cur.id.Ino, "offset", cur.off, "size", size)
	}
	if cur.idle < rotateIdlePolls {
		return stepIdle, nil
	}
	// Rotated and idle: an unterminated last line is now complete.
	b, err := t.readBatch(cur, size, true, t.cfg.BatchLines, maxBatchBytes)
	if err != nil {
		t.log.Warn("read failed; retrying", "err", err)
		return stepIdle, nil
	}
	if b.end > cur.off {
		if err := t.deliver(ctx, cur, b, true); err != nil {
			return stepIdle, err
		}
		return stepProgress, nil
	}
	if err := t.saveState(ctx, t.freshState(cur.gen)); err != nil {
		return stepIdle, err
	}
	t.rotations.Add(1)
	t.offset.Store(0)
	t.log.Info("finished rotated file", "ino", cur.id.Ino, "offset", cur.off)
	return stepFinished, nil
}

// fingerprintMatches reports whether the first bytes of the file are still
// the ones already read (a file truncated and refilled past the offset
// between two polls does not match).
func (t *Tailer) fingerprintMatches(cur *tailFile) bool {
	if len(cur.fp) == 0 {
		return true
	}
	b := make([]byte, len(cur.fp))
	if _, err := cur.f.ReadAt(b, 0); err != nil {
		return false
	}
	return bytes.Equal(b, cur.fp)
}

// batch is a byte range [start, end) of the file and the lines in it.
type batch struct {
	start, end int64
	lines      [][]byte
	rejected   int
}

// readBatch reads the complete lines from cur.off up to limit, at most
// maxLines lines (accepted or rejected) and about maxBytes bytes. With final,
// an unterminated line running to limit counts as complete.
func (t *Tailer) readBatch(cur *tailFile, limit int64, final bool, maxLines, maxBytes int) (batch, error) {
	b := batch{start: cur.off, end: cur.off}
	maxLine := int64(t.cfg.MaxLineBytes)
	pos, lineStart := cur.off, cur.off
	skipping := false
	if cur.skipStart >= 0 && cur.skipStart == cur.off {
		skipping, pos = true, cur.skipScan
	}
	var acc []byte
	nbytes := 0
	full := func() bool { return len(b.lines)+b.rejected >= maxLines || nbytes >= maxBytes }
	endLine := func(lineEnd int64, line []byte, tooLong bool) {
		if tooLong {
			b.rejected++
			t.log.Warn("line longer than max_line_bytes rejected", "offset", lineStart,
				"bytes", lineEnd-lineStart, "max_line_bytes", maxLine)
		} else {
			b.lines = append(b.lines, line)
			nbytes += len(line)
		}
	}
read:
	for pos < limit && !full() {
		n := int(min(int64(len(t.buf)), limit-pos))
		m, err := cur.f.ReadAt(t.buf[:n], pos)
		if m == 0 {
			if err == nil || err == io.EOF {
				break // the file shrank; the next poll notices
			}
			return batch{}, err
		}
		chunk := t.buf[:m]
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				if !skipping {
					if int64(len(acc)+len(chunk)) > maxLine {
						skipping, acc = true, nil
					} else {
						acc = append(acc, chunk...)
					}
				}
				pos += int64(len(chunk))
				break
			}
			lineEnd := pos + int64(i)
			tooLong := skipping || int64(len(acc)+i) > maxLine
			var line []byte
			if !tooLong {
				line = append(acc, chunk[:i]...)
				if line == nil {
					line = []byte{}
				}
			}
			endLine(lineEnd, line, tooLong)
			pos = lineEnd + 1
			chunk = chunk[i+1:]
			acc, skipping, lineStart, b.end = nil, false, pos, pos
			if full() {
				break read
			}
		}
	}
	switch {
	case final && pos >= limit && lineStart < limit:
		endLine(limit, acc, skipping || int64(len(acc)) > maxLine)
		b.end = limit
		cur.skipStart = -1
	case skipping:
		cur.skipStart, cur.skipScan = lineStart, pos
	}
	return b, nil
}

// deliver submits b (retrying until the sink accepts it) and then records
// the new position. With intent, the range is first written to the state
// file as pending, so that after a crash the same range is re-submitted.
func (t *Tailer) deliver(ctx context.Context, cur *tailFile, b batch, intent bool) error {
	if len(b.lines) > 0 {
		if intent {
			if err := t.persist(ctx, cur, &span{Start: b.start, End: b.end}); err != nil {
				return err
			}
		}
		key := fmt.Sprintf("file:%s:%d:%d:%d:%d", t.cfg.Path, cur.id.Ino, b.start, b.end, cur.gen)
		if err := t.submit(ctx, t.events(b.lines), key); err != nil {
			return err
		}
		if t.afterSubmit != nil {
			if err := t.afterSubmit(); err != nil {
				return err
			}
		}
	}
	cur.off = b.end
	if cur.skipStart >= 0 && cur.skipStart < cur.off {
		cur.skipStart = -1
	}
	if len(cur.fp) < fingerprintBytes && int64(len(cur.fp)) < cur.off {
		fp := make([]byte, min(cur.off, fingerprintBytes))
		if _, err := cur.f.ReadAt(fp, 0); err == nil {
			cur.fp = fp
		}
	}
	if err := t.persist(ctx, cur, nil); err != nil {
		return err
	}
	t.offset.Store(cur.off)
	t.linesRead.Add(uint64(len(b.lines) + b.rejected))
	t.linesRejected.Add(uint64(b.rejected))
	t.eventsSubmitted.Add(uint64(len(b.lines)))
	return nil
}

// events turns lines into events.
func (t *Tailer) events(lines [][]byte) []event.Event {
	now := time.Now()
	evs := make([]event.Event, len(lines))
	for i, line := range lines {
		ev := &evs[i]
		ev.ID = event.NewID(now)
		ev.Received = now
		ev.Source = t.source
		ev.Raw = line
		t.build(line, ev)
		if ev.Time.IsZero() {
			ev.Time = ev.Received
		}
	}
	return evs
}

// submit calls the sink until it accepts the batch or ctx is done, backing
// off from PollInterval up to 30s between attempts.
func (t *Tailer) submit(ctx context.Context, evs []event.Event, key string) error {
	backoff := t.cfg.PollInterval
	for {
		err := t.sink.Submit(ctx, evs, key)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.submitFailures.Add(1)
		t.log.Warn("submit failed; retrying", "err", err, "dedup_key", key, "retry_in", backoff)
		if !sleepCtx(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// persist writes cur's position (and the pending batch, if any).
func (t *Tailer) persist(ctx context.Context, cur *tailFile, pending *span) error {
	st := &state{
		Version:        stateVersion,
		Path:           t.cfg.Path,
		Dev:            cur.id.Dev,
		Ino:            cur.id.Ino,
		Offset:         cur.off,
		Generation:     cur.gen,
		FingerprintLen: len(cur.fp),
		Fingerprint:    fingerprint(cur.fp),
		Pending:        pending,
	}
	return t.saveState(ctx, st)
}

// saveState writes st, retrying with backoff until it succeeds or ctx is
// done: the tailer does not read on while its position cannot be recorded.
func (t *Tailer) saveState(ctx context.Context, st *state) error {
	backoff := t.cfg.PollInterval
	for {
		err := writeState(t.statePath, st)
		if err == nil {
			return nil
		}
		t.log.Error("cannot write state file; retrying", "state", t.statePath, "err", err, "retry_in", backoff)
		if !sleepCtx(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// sleepCtx waits d; it reports false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}
