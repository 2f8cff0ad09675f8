package event

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/riposte-soar/riposte/parse/jsonfast"
)

// The wire format carries events on the bus. It is binary so that raw bytes
// travel unescaped, and it carries the fields already encoded as JSON so the
// event store writes them without decoding and re-encoding each event.
//
//	message := version(1 byte = 1) event*
//	event   := str(id) varint(time) varint(received) str(host) str(source)
//	           str(product) str(service) str(category) str(fields JSON) str(raw)
//	str     := uvarint(len) bytes
//
// Times are Unix nanoseconds; 0 stands for the zero time.
const wireVersion = 1

// Wire is an event as read from the bus, with its fields still JSON.
type Wire struct {
	ID                         string
	Time, Received             time.Time
	Host, Source               string
	Product, Service, Category string
	FieldsJSON                 []byte
	Raw                        []byte
}

// AppendWire appends e to a message buffer; start a buffer with NewMessage.
func AppendWire(buf []byte, e *Event) []byte {
	buf = appendStr(buf, e.ID)
	buf = binary.AppendVarint(buf, nanos(e.Time))
	buf = binary.AppendVarint(buf, nanos(e.Received))
	buf = appendStr(buf, e.Host)
	buf = appendStr(buf, e.Source)
	buf = appendStr(buf, e.LogSource.Product)
	buf = appendStr(buf, e.LogSource.Service)
	buf = appendStr(buf, e.LogSource.Category)
	// Length-prefix the fields JSON after writing it in place.
	mark := len(buf)
	buf = append(buf, make([]byte, binary.MaxVarintLen32)...)
	buf = AppendFieldsJSON(buf, e.Fields)
	n := len(buf) - mark - binary.MaxVarintLen32
	var l [binary.MaxVarintLen32]byte
	k := binary.PutUvarint(l[:], uint64(n))
	copy(buf[mark:], l[:k])
	buf = append(buf[:mark+k], buf[mark+binary.MaxVarintLen32:]...)
	buf = binary.AppendUvarint(buf, uint64(len(e.Raw)))
	return append(buf, e.Raw...)
}

// NewMessage starts a message buffer.
func NewMessage(capacity int) []byte {
	b := make([]byte, 1, max(1, capacity))
	b[0] = wireVersion
	return b
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func appendStr(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

var errTruncated = errors.New("event message truncated")

// DecodeMessage reads every event of a message. Strings and byte slices of
// the result alias data.
func DecodeMessage(data []byte) ([]Wire, error) {
	if len(data) == 0 || data[0] != wireVersion {
		return nil, fmt.Errorf("event message: unknown version byte")
	}
	r := reader{b: data[1:]}
	var out []Wire
	for len(r.b) > 0 {
		var w Wire
		w.ID = string(r.bytes())
		w.Time = fromNanos(r.varint())
		w.Received = fromNanos(r.varint())
		w.Host = string(r.bytes())
		w.Source = string(r.bytes())
		w.Product = string(r.bytes())
		w.Service = string(r.bytes())
		w.Category = string(r.bytes())
		w.FieldsJSON = r.bytes()
		w.Raw = r.bytes()
		if r.err != nil {
			return out, fmt.Errorf("event %d: %w", len(out), r.err)
		}
		out = append(out, w)
	}
	return out, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errTruncated
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	if r.err != nil {
		return nil
	}
	l, n := binary.Uvarint(r.b)
	if n <= 0 || l > uint64(len(r.b)-n) {
		r.err = errTruncated
		return nil
	}
	v := r.b[n : n+int(l)]
	r.b = r.b[n+int(l):]
	return v
}

// Event decodes the fields and returns the full Event.
func (w *Wire) Event() (Event, error) {
	e := Event{ID: w.ID, Time: w.Time, Received: w.Received, Host: w.Host, Source: w.Source,
		LogSource: LogSource{Product: w.Product, Service: w.Service, Category: w.Category}, Raw: w.Raw}
	f, err := DecodeFieldsJSON(w.FieldsJSON)
	if err != nil {
		return e, fmt.Errorf("event %s: %w", w.ID, err)
	}
	e.Fields = f
	return e, nil
}

// DecodeFieldsJSON reads fields written by AppendFieldsJSON, restoring
// whole numbers as int64 and others as float64, as normalization made them.
func DecodeFieldsJSON(b []byte) (map[string]any, error) {
	m, err := jsonfast.DecodeObject(b)
	if err != nil {
		return nil, err
	}
	for k, v := range m {
		m[k] = numbers(v)
	}
	return m, nil
}

// numbers turns json.Number into int64 or float64, inside lists too.
func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case []any:
		for i := range x {
			x[i] = numbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = numbers(x[k])
		}
	}
	return v
}

// AppendFieldsJSON writes fields as one JSON object with sorted keys, so
// equal events encode to equal bytes.
func AppendFieldsJSON(buf []byte, fields map[string]any) []byte {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, k)
		buf = append(buf, ':')
		buf = appendJSONValue(buf, fields[k])
	}
	return append(buf, '}')
}

func appendJSONValue(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...)
	case string:
		return appendJSONString(buf, x)
	case bool:
		return strconv.AppendBool(buf, x)
	case int64:
		return strconv.AppendInt(buf, x, 10)
	case int:
		return strconv.AppendInt(buf, int64(x), 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(buf, "null"...)
		}
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			// Keep a decimal point so the value reads back as a float.
			buf = strconv.AppendFloat(buf, x, 'f', -1, 64)
			return append(buf, ".0"...)
		}
		return strconv.AppendFloat(buf, x, 'g', -1, 64)
	case json.Number:
		if _, err := strconv.ParseFloat(string(x), 64); err == nil {
			return append(buf, x...)
		}
		return appendJSONString(buf, string(x))
	case []any:
		buf = append(buf, '[')
		for i, it := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONValue(buf, it)
		}
		return append(buf, ']')
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return appendJSONString(buf, fmt.Sprint(x))
		}
		return append(buf, b...)
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString escapes like encoding/json without HTML escaping, and
// replaces invalid UTF-8 with U+FFFD as encoding/json does.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
