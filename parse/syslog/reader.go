package syslog

import (
	"bytes"
	"fmt"
	"io"
	"math"
)

// defaultMaxSize applies when NewReader is given no limit. It is well above
// the 8 KiB most senders cap messages at, and bounds the memory one
// connection can pin.
const defaultMaxSize = 64 << 10

// maxCountDigits bounds the MSG-LEN of octet counting. Nine digits fit any
// int, and a longer digit run is far more likely a plain line that starts
// with a number than a frame of a gigabyte or more.
const maxCountDigits = 9

// FrameTooLongError reports a frame that exceeded the Reader's maxSize. The
// frame has been skipped, so the caller may report it and call Next again.
type FrameTooLongError struct {
	// Length is the frame's length in bytes. For LF framing it is the
	// length up to the terminator, or up to the end of the stream.
	Length int
	Max    int
}

func (e *FrameTooLongError) Error() string {
	return fmt.Sprintf("syslog: frame of %d bytes exceeds the maximum of %d", e.Length, e.Max)
}

// Reader splits a TCP byte stream into messages, per RFC 6587:
// octet-counting ("<len> <msg>") when a frame starts with a digit, otherwise
// non-transparent framing ending at LF (a trailing CR and NUL are also
// accepted as terminators/trimmed). It decides per frame, so a stream may
// mix both.
//
// NUL ends a frame because RFC 6587 names it as the second most common
// trailer. CR, LF and NUL between frames are skipped, so empty lines and the
// LF some senders append to octet-counted frames produce no frame.
type Reader struct {
	rd         io.Reader
	max        int
	limit      int // largest buffer ever needed: a maximal frame plus its header or trailer
	buf        []byte
	start, end int   // buffered, unconsumed bytes are buf[start:end]
	err        error // first error from rd; sticky, reported once the buffer is used up
}

// NewReader returns a Reader that reads from r and rejects frames longer
// than maxSize bytes; maxSize <= 0 means 64 KiB. The buffer grows on demand
// up to slightly more than maxSize.
func NewReader(r io.Reader, maxSize int) *Reader {
	if maxSize <= 0 {
		maxSize = defaultMaxSize
	}
	const slack = maxCountDigits + 7 // count and space, or CR and LF, beyond the frame
	if maxSize > math.MaxInt-slack {
		maxSize = math.MaxInt - slack
	}
	limit := maxSize + slack
	return &Reader{rd: r, max: maxSize, limit: limit, buf: make([]byte, min(limit, 4096))}
}

// Next returns the next frame's bytes (valid until the next call). A frame
// longer than maxSize returns an error of type *FrameTooLongError (carrying
// the length) after skipping that frame, so the caller can report it and keep
// reading; io.EOF at a clean end; io.ErrUnexpectedEOF when the stream ends
// mid-frame with octet counting. A final LF-framed message without a trailing
// newline is returned at EOF. Other read errors are returned as they are and
// repeat on later calls.
func (r *Reader) Next() ([]byte, error) {
	for {
		if !r.skipSeparators() {
			return nil, r.err
		}
		if isDigit(r.buf[r.start]) {
			if frame, ok, err := r.octetFrame(); ok {
				if err == nil && len(frame) == 0 {
					continue // "0 " is a valid, empty frame: nothing to parse
				}
				return frame, err
			}
		}
		frame, err := r.lineFrame()
		if err == nil && len(frame) == 0 {
			continue
		}
		return frame, err
	}
}

// fill reads more bytes into the buffer, moving the unconsumed bytes to its
// front when it is full (which invalidates frames returned earlier; callers
// only fill inside Next). It reports whether any bytes arrived.
func (r *Reader) fill() bool {
	if r.err != nil {
		return false
	}
	if r.start == r.end {
		r.start, r.end = 0, 0
	} else if r.end == len(r.buf) && r.start > 0 {
		// Moving only when out of room keeps a sender that trickles a
		// frame byte by byte from costing a copy of the frame per read.
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	if r.end == len(r.buf) {
		if len(r.buf) >= r.limit {
			// Callers discard before the buffer can fill up; reaching this
			// is a bug, but a stuck connection is better than a panic.
			r.err = fmt.Errorf("syslog: internal error: frame buffer full at %d bytes", len(r.buf))
			return false
		}
		nb := make([]byte, min(max(2*len(r.buf), 512), r.limit))
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	// Like bufio, give up on a reader that keeps returning nothing, rather
	// than spin.
	for range 100 {
		n, err := r.rd.Read(r.buf[r.end:])
		if n < 0 || n > len(r.buf)-r.end {
			r.err = fmt.Errorf("syslog: reader returned invalid count %d", n)
			return false
		}
		r.end += n
		if err != nil {
			r.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	r.err = io.ErrNoProgress
	return false
}

// skipSeparators drops CR, LF and NUL before a frame and reports whether a
// frame's first byte is buffered.
func (r *Reader) skipSeparators() bool {
	for {
		for r.start < r.end {
			if c := r.buf[r.start]; c != '\n' && c != '\r' && c != 0 {
				return true
			}
			r.start++
		}
		if !r.fill() {
			return false
		}
	}
}

// eofMeansTruncated turns a clean EOF met inside an octet-counted frame into
// io.ErrUnexpectedEOF and drops the partial frame so that the next call
// reports io.EOF.
func (r *Reader) eofMeansTruncated() error {
	if r.err == io.EOF {
		r.start = r.end
		return io.ErrUnexpectedEOF
	}
	return r.err
}

// octetFrame reads "MSG-LEN SP MSG". ok is false, and nothing is consumed,
// when the digits are not followed by a space: then the frame is taken as a
// line that happens to start with a digit.
func (r *Reader) octetFrame() (frame []byte, ok bool, err error) {
	var i int
	for {
		avail := r.buf[r.start:r.end]
		i = 0
		for i < len(avail) && i < maxCountDigits && isDigit(avail[i]) {
			i++
		}
		if i < len(avail) {
			if avail[i] != ' ' {
				return nil, false, nil
			}
			break
		}
		if !r.fill() {
			return nil, true, r.eofMeansTruncated()
		}
	}
	n := 0
	for _, c := range r.buf[r.start : r.start+i] {
		n = n*10 + int(c-'0')
	}
	r.start += i + 1
	if n > r.max {
		return nil, true, r.discardCount(n)
	}
	for r.end-r.start < n {
		if !r.fill() {
			return nil, true, r.eofMeansTruncated()
		}
	}
	frame = r.buf[r.start : r.start+n : r.start+n]
	r.start += n
	return frame, true, nil
}

// discardCount skips an oversized octet-counted frame of n bytes without
// buffering it.
func (r *Reader) discardCount(n int) error {
	length := n
	for {
		if r.end-r.start >= n {
			r.start += n
			return &FrameTooLongError{Length: length, Max: r.max}
		}
		n -= r.end - r.start
		r.start = r.end
		if !r.fill() {
			return r.eofMeansTruncated()
		}
	}
}

// indexTerminator returns the index of the first LF or NUL in b, or -1.
// Two IndexByte calls beat a byte loop: both are vectorized, and NUL is rare.
func indexTerminator(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	head := b
	if i >= 0 {
		head = b[:i]
	}
	if k := bytes.IndexByte(head, 0); k >= 0 {
		return k
	}
	return i
}

// lineFrame reads a frame that ends at LF or NUL, or at the end of the
// stream.
func (r *Reader) lineFrame() ([]byte, error) {
	scanned := 0 // bytes of the frame already searched, so refills stay linear
	for {
		avail := r.buf[r.start:r.end]
		if j := indexTerminator(avail[scanned:]); j >= 0 {
			frame := avail[:scanned+j]
			r.start += scanned + j + 1
			return r.checkLine(frame)
		}
		scanned = len(avail)
		// Content, an optional CR and the terminator fit in max+2 bytes;
		// more without a terminator cannot become a valid frame.
		if len(avail) >= r.max+2 {
			return nil, r.discardLine()
		}
		if !r.fill() {
			if r.err != io.EOF {
				return nil, r.err
			}
			frame := r.buf[r.start:r.end]
			r.start = r.end
			return r.checkLine(frame)
		}
	}
}

func (r *Reader) checkLine(frame []byte) ([]byte, error) {
	if n := len(frame); n > 0 && frame[n-1] == '\r' {
		frame = frame[:n-1]
	}
	if len(frame) > r.max {
		return nil, &FrameTooLongError{Length: len(frame), Max: r.max}
	}
	return frame[:len(frame):len(frame)], nil
}

// discardLine skips the rest of an oversized LF-framed frame whose buffered
// part is buf[start:end]. The reported length leaves out a CR before the
// terminator, as checkLine does, so it does not depend on read boundaries.
func (r *Reader) discardLine() error {
	length := r.end - r.start
	lastCR := r.buf[r.end-1] == '\r'
	r.start = r.end
	for {
		if !r.fill() {
			if r.err != io.EOF {
				return r.err
			}
			if lastCR {
				length--
			}
			return &FrameTooLongError{Length: length, Max: r.max}
		}
		avail := r.buf[r.start:r.end]
		if j := indexTerminator(avail); j >= 0 {
			r.start += j + 1
			length += j
			if j > 0 && avail[j-1] == '\r' || j == 0 && lastCR {
				length--
			}
			return &FrameTooLongError{Length: length, Max: r.max}
		}
		length += len(avail)
		lastCR = avail[len(avail)-1] == '\r'
		r.start = r.end
	}
}
