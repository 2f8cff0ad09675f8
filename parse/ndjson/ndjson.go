// Package ndjson reads a request body of JSON events in whichever shape a
// shipper sends: one object, an array of objects, newline-delimited objects
// (NDJSON), or pretty-printed objects one after another. Each item carries
// its line so a sender learns exactly which ones were refused and why; a bad
// item never hides the good ones around it.
package ndjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/riposte-soar/riposte/parse/jsonfast"
)

// Item is one event read from the body, or the reason it could not be.
type Item struct {
	Line  int // 1-based line where the item starts
	Index int // 0-based position among the body's items
	Raw   []byte
	Obj   map[string]any
	Err   error
}

// ErrTooLarge marks an item over the size limit.
var ErrTooLarge = errors.New("event too large")

// Read calls fn for every item of body in order. maxItem bounds one item's
// bytes (0: no bound). Raw slices alias body.
func Read(body []byte, maxItem int, fn func(Item)) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	first := firstNonSpace(body)
	if first < 0 {
		return
	}
	if body[first] == '[' {
		readArray(body, maxItem, fn)
		return
	}
	// NDJSON is the common case and the only shape where one bad line must
	// not spoil the others; pretty-printed objects are recognized when the
	// first line alone is not a complete value but the body is a clean
	// stream of objects.
	if !firstLineParses(body) {
		if items, ok := readStream(body, maxItem); ok {
			for _, it := range items {
				fn(it)
			}
			return
		}
	}
	readLines(body, maxItem, fn)
}

func firstNonSpace(b []byte) int {
	for i, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return i
		}
	}
	return -1
}

func firstLineParses(body []byte) bool {
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		return json.Valid(line)
	}
	return true
}

func readLines(body []byte, maxItem int, fn func(Item)) {
	lineNo, index := 0, 0
	for len(body) > 0 {
		lineNo++
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		it := Item{Line: lineNo, Index: index, Raw: line}
		index++
		if maxItem > 0 && len(line) > maxItem {
			it.Err = fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(line), maxItem)
		} else {
			it.Obj, it.Err = object(line)
		}
		fn(it)
	}
}

// object decodes exactly one JSON object, numbers as json.Number so large
// integers (record ids, ports, PIDs) keep their digits. jsonfast accepts
// and returns exactly what encoding/json would, at a fraction of the cost.
func object(b []byte) (map[string]any, error) {
	m, err := jsonfast.DecodeObjectShared(b)
	if err != nil {
		return nil, describe(err)
	}
	return m, nil
}

func describe(err error) error {
	var fe *jsonfast.SyntaxError
	if errors.As(err, &fe) {
		if strings.HasPrefix(fe.Msg, "not a JSON object") {
			return errors.New(fe.Msg) // valid JSON, wrong shape: no byte offset to point at
		}
		return fmt.Errorf("invalid JSON at byte %d: %s", fe.Offset, fe.Msg)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("invalid JSON: unexpected end of input")
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

func lineAt(body []byte, off int64) int {
	if off > int64(len(body)) {
		off = int64(len(body))
	}
	return bytes.Count(body[:off], []byte{'\n'}) + 1
}

func readStream(body []byte, maxItem int) ([]Item, bool) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var items []Item
	for {
		var raw json.RawMessage
		start := d.InputOffset()
		if err := d.Decode(&raw); err == io.EOF {
			return items, true
		} else if err != nil {
			return nil, false
		}
		// Skip the whitespace the decoder counted before the value.
		s := int(start) + firstNonSpace(body[start:])
		it := Item{Line: lineAt(body, int64(s)), Index: len(items), Raw: body[s:d.InputOffset()]}
		if maxItem > 0 && len(raw) > maxItem {
			it.Err = fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(raw), maxItem)
		} else {
			it.Obj, it.Err = object(raw)
		}
		items = append(items, it)
	}
}

func readArray(body []byte, maxItem int, fn func(Item)) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	_, _ = d.Token() // '['
	index := 0
	for d.More() {
		start := d.InputOffset()
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			fn(Item{Line: lineAt(body, start), Index: index,
				Err: fmt.Errorf("array element unreadable, and so is the rest of the array: %v", describe(err))})
			return
		}
		s := int(start)
		if k := firstNonSpace(body[s:]); k >= 0 {
			s += k
		}
		if s < len(body) && body[s] == ',' {
			s++
			s += max(0, firstNonSpace(body[s:]))
		}
		it := Item{Line: lineAt(body, int64(s)), Index: index, Raw: []byte(raw)}
		index++
		if maxItem > 0 && len(raw) > maxItem {
			it.Err = fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(raw), maxItem)
		} else {
			it.Obj, it.Err = object(raw)
		}
		fn(it)
	}
	if _, err := d.Token(); err != nil {
		fn(Item{Line: lineAt(body, d.InputOffset()), Index: index, Err: fmt.Errorf("array not closed: %v", describe(err))})
		return
	}
	if rest := firstNonSpace(body[d.InputOffset():]); rest >= 0 {
		fn(Item{Line: lineAt(body, d.InputOffset()+int64(rest)), Index: index,
			Err: errors.New("unexpected data after the closing ] of the array")})
	}
}
