package normalize

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/event"
)

// maxDepth bounds how deep nested objects are flattened; anything deeper is
// kept as its JSON text under the key reached so far.
const maxDepth = 32

// ensureFields returns ev.Fields, making it with room for n entries when the
// event has none yet.
func ensureFields(ev *event.Event, n int) map[string]any {
	if ev.Fields == nil {
		ev.Fields = make(map[string]any, n)
	}
	return ev.Fields
}

// scalar converts a decoded JSON scalar (or a Go value a caller passed) to one
// of the types Event.Fields allows: string, int64, float64, bool or nil.
func scalar(v any) any {
	switch x := v.(type) {
	case nil, string, bool, int64:
		return v // already allowed; returning v avoids boxing it again
	case json.Number:
		return number(string(x))
	case float64:
		return fromFloat(x)
	case float32:
		return fromFloat(float64(x))
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x)
		}
		return float64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return float64(x)
	default:
		return fmt.Sprint(x)
	}
}

// number keeps integers as int64 and other numbers as float64; a number out
// of float64 range stays the text it was.
func number(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	return s
}

func fromFloat(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

// stringify keeps a value too deep to flatten as its JSON text.
func stringify(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// toInt64 reads an integer from a number or a decimal string.
func toInt64(v any) (int64, bool) {
	switch x := scalar(v).(type) {
	case int64:
		return x, true
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return i, err == nil
	}
	return 0, false
}

// toString renders a scalar as text ("" for nil and for values that are not
// scalars).
func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return string(x)
	case nil, map[string]any, []any:
		return ""
	}
	return toString(scalar(v))
}

// timeLayouts are tried in order on time strings; those without a zone are
// read as UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
}

// parseTime reads an RFC 3339 (or close) time string, or unix seconds,
// milliseconds, microseconds or nanoseconds given as a number or a numeric
// string.
func parseTime(v any) (time.Time, bool) {
	switch x := scalar(v).(type) {
	case int64:
		return unixInt(x)
	case float64:
		return unixFloat(x)
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return time.Time{}, false
		}
		if c := s[0]; c >= '0' && c <= '9' && len(s) < 21 && strings.Trim(s, "0123456789.") == "" {
			switch n := number(s).(type) {
			case int64:
				return unixInt(n)
			case float64:
				return unixFloat(n)
			}
			return time.Time{}, false
		}
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

func unixInt(n int64) (time.Time, bool) {
	switch {
	case n <= 0:
		return time.Time{}, false
	case n < 1e11: // seconds: up to the year 5138
		return time.Unix(n, 0).UTC(), true
	case n < 1e14:
		return time.UnixMilli(n).UTC(), true
	case n < 1e17:
		return time.UnixMicro(n).UTC(), true
	default:
		return time.Unix(0, n).UTC(), true
	}
}

func unixFloat(f float64) (time.Time, bool) {
	if math.IsNaN(f) || f <= 0 || f >= 9e18 {
		return time.Time{}, false
	}
	if f >= 1e11 {
		return unixInt(int64(f))
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64((f-sec)*1e9)).UTC(), true
}
