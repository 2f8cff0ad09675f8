package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/bus"
)

// Bucket is the object store bucket NATS keeps evidence in.
const Bucket = "riposte-evidence"

// NATS keeps blobs in a JetStream object store bucket, one object per
// hash, replicated as the node's streams are (bus.Replicas): every node
// of the cluster reads it, and it survives the loss of a NATS server.
type NATS struct {
	js     jetstream.JetStream
	obs    jetstream.ObjectStore
	bucket string
	mu     keyedMutex
}

// OpenNATS creates or opens the bucket on b.
func OpenNATS(ctx context.Context, b *bus.Bus) (*NATS, error) {
	return OpenNATSBucket(ctx, b, Bucket)
}

// OpenNATSBucket is OpenNATS with another bucket (tests use one each).
func OpenNATSBucket(ctx context.Context, b *bus.Bus, bucket string) (*NATS, error) {
	if _, err := b.ObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: bucket,
		Description: "Riposte evidence, by SHA-256"}); err != nil {
		return nil, err
	}
	// A JetStream context of its own, with few publishes in flight: an
	// upload is published a chunk (128 KiB) at a time, and the bus's
	// allowance would let 32 MiB of one upload wait in memory.
	js, err := jetstream.New(b.Conn, jetstream.WithPublishAsyncMaxPending(putInFlight))
	if err != nil {
		return nil, err
	}
	obs, err := js.ObjectStore(ctx, bucket)
	if err != nil {
		return nil, err
	}
	return &NATS{js: js, obs: obs, bucket: bucket}, nil
}

// putInFlight is how many chunks of an upload may await their
// acknowledgement; readAhead how many chunks a reader fetches ahead.
const (
	putInFlight = 8
	readAhead   = 8
)

func (s *NATS) Kind() string { return "nats" }

func (s *NATS) Put(ctx context.Context, sha string, size int64, r io.Reader) error {
	sha, err := CheckHash(sha)
	if err != nil {
		return err
	}
	// One upload of a hash at a time on this node: two at once would both
	// store their chunks, and the one whose description lost would leave
	// its chunks behind. (Across nodes the same can happen, rarely; the
	// object read is whole either way.)
	unlock := s.mu.lock(sha)
	defer unlock()
	if ok, err := s.Exists(ctx, sha); err != nil {
		return err
	} else if ok {
		return drain(r, sha, size)
	}
	// The verifier fails the read at the end if the content is wrong;
	// the object store then purges the chunks it wrote and keeps no
	// description of the object.
	if _, err := s.obs.Put(ctx, jetstream.ObjectMeta{Name: sha}, newVerifier(r, sha, size)); err != nil {
		return fmt.Errorf("object store put %s: %w", sha, err)
	}
	return nil
}

// Open reads the object's chunks through an ordered pull consumer that
// fetches a few chunks ahead. (The client's ObjectStore.Get pushes the
// whole object into the subscription's buffer, up to 64 MiB, as fast as
// the server sends it.) The chunks' subject and stream are the object
// store's published layout (NATS ADR-20).
func (s *NATS) Open(ctx context.Context, sha string) (io.ReadCloser, int64, error) {
	sha, err := CheckHash(sha)
	if err != nil {
		return nil, 0, err
	}
	info, err := s.obs.GetInfo(ctx, sha)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, 0, fmt.Errorf("blob %s: %w", sha, ErrNotExist)
	} else if err != nil {
		return nil, 0, err
	}
	size := int64(info.Size)
	if size == 0 {
		return io.NopCloser(strings.NewReader("")), 0, nil
	}
	cons, err := s.js.OrderedConsumer(ctx, "OBJ_"+s.bucket, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"$O." + s.bucket + ".C." + info.NUID}})
	if err != nil {
		return nil, 0, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(readAhead))
	if err != nil {
		return nil, 0, err
	}
	return &chunkIter{it: it, left: size}, size, nil
}

// chunkIter reads an object's chunks in order.
type chunkIter struct {
	it   jetstream.MessagesContext
	buf  []byte
	left int64 // bytes not yet received
}

func (c *chunkIter) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.left <= 0 {
			return 0, io.EOF
		}
		m, err := c.it.Next()
		if err != nil {
			return 0, fmt.Errorf("read object chunk: %w", err)
		}
		c.buf = m.Data()
		c.left -= int64(len(c.buf))
		if c.left < 0 {
			return 0, fmt.Errorf("object chunks hold more than its recorded size: %w", io.ErrUnexpectedEOF)
		}
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func (c *chunkIter) Close() error {
	c.it.Stop()
	return nil
}

func (s *NATS) Exists(ctx context.Context, sha string) (bool, error) {
	sha, err := CheckHash(sha)
	if err != nil {
		return false, err
	}
	_, err = s.obs.GetInfo(ctx, sha)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (s *NATS) Delete(ctx context.Context, sha string) error {
	sha, err := CheckHash(sha)
	if err != nil {
		return err
	}
	if err := s.obs.Delete(ctx, sha); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return err
	}
	return nil
}

// keyedMutex serializes work on one key and lets other keys go on.
type keyedMutex struct {
	mu   sync.Mutex
	held map[string]*keyLock
}

type keyLock struct {
	sync.Mutex
	users int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.held == nil {
		k.held = map[string]*keyLock{}
	}
	l := k.held[key]
	if l == nil {
		l = &keyLock{}
		k.held[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.held, key)
		}
		k.mu.Unlock()
	}
}
