package event

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
)

func sample() []Event {
	t := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	return []Event{
		{ID: NewID(t), Time: t, Received: t.Add(time.Second), Host: "web-1", Source: "http",
			LogSource: LogSource{Product: "linux", Service: "sshd"},
			Fields: map[string]any{"user.name": "root", "source.port": int64(22), "ratio": 0.5, "whole": 3.0,
				"ok": true, "none": nil, "list": []any{"a", int64(1)}, "esc": "a\"b\\c\n\x01\u2028<>&", "bad": "\xff"},
			Raw: []byte("raw \xff bytes\n")},
		{ID: NewID(t), Received: t, Source: "syslog-udp", Fields: map[string]any{}, Raw: nil},
	}
}

func TestWireRoundTrip(t *testing.T) {
	in := sample()
	msg := NewMessage(0)
	for i := range in {
		msg = AppendWire(msg, &in[i])
	}
	ws, err := DecodeMessage(msg)
	if err != nil || len(ws) != len(in) {
		t.Fatalf("DecodeMessage = %d, %v", len(ws), err)
	}
	for i, w := range ws {
		got, err := w.Event()
		if err != nil {
			t.Fatal(err)
		}
		want := in[i]
		if want.Fields["bad"] != nil {
			want.Fields["bad"] = "\ufffd" // invalid UTF-8 in a field is replaced, as in any JSON
		}
		if len(want.Raw) == 0 {
			want.Raw = []byte{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("event %d:\n got %#v\nwant %#v", i, got, want)
		}
		// The fields JSON is valid JSON that encoding/json reads.
		var m map[string]any
		if err := json.Unmarshal(w.FieldsJSON, &m); err != nil {
			t.Errorf("fields JSON invalid: %v: %s", err, w.FieldsJSON)
		}
	}
}

func TestWireRejectsTruncated(t *testing.T) {
	in := sample()
	msg := AppendWire(NewMessage(0), &in[0])
	for cut := 2; cut < len(msg); cut++ { // msg[:1] is a valid empty message
		if _, err := DecodeMessage(msg[:cut]); err == nil {
			t.Fatalf("truncated at %d of %d accepted", cut, len(msg))
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	in := sample()
	f.Add(AppendWire(NewMessage(0), &in[0]))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		ws, err := DecodeMessage(b)
		if err != nil {
			return
		}
		for _, w := range ws {
			_, _ = w.Event()
		}
	})
}

func FuzzFieldsJSON(f *testing.F) {
	f.Add("k", "v\x00\xff\"", int64(-5), 1.5)
	f.Fuzz(func(t *testing.T, k, s string, i int64, fl float64) {
		if !utf8.ValidString(k) {
			return // keys with invalid UTF-8 are replaced like any JSON string
		}
		fields := map[string]any{k: s, k + "i": i, k + "f": fl}
		b := AppendFieldsJSON(nil, fields)
		if !json.Valid(b) {
			t.Fatalf("invalid JSON %q", b)
		}
		got, err := DecodeFieldsJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		if got[k+"i"] != i {
			t.Fatalf("int %v -> %v", i, got[k+"i"])
		}
	})
}
