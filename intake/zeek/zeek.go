// Package zeek turns Zeek notice.log records, written as JSON, into
// Riposte alerts.
package zeek

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/intake/raise"
)

// Name is the format's name in ?format= and in rule ids (zeek:NOTE).
const Name = "zeek"

// Match says whether a document is a Zeek log record: notices carry note,
// the other logs a connection's id.orig_h or the _path of the log.
func Match(top map[string]json.RawMessage) bool {
	for _, k := range []string{"note", "id.orig_h", "_path"} {
		if _, ok := top[k]; ok {
			if _, ts := top["ts"]; ts {
				return true
			}
		}
	}
	return false
}

type notice struct {
	TS   json.RawMessage `json:"ts"`
	UID  string          `json:"uid"`
	Path string          `json:"_path"`
	Note string          `json:"note"`
	Msg  string          `json:"msg"`
	Src  string          `json:"src"`
	Dst  string          `json:"dst"`
	P    json.RawMessage `json:"p"`
	Orig string          `json:"id.orig_h"`
	Resp string          `json:"id.resp_h"`
}

// Alerts reads one notice. Records of the other logs (conn, dns, http,
// ssl, ...) are events, refused with a pointer to POST /api/v1/events.
func Alerts(raw []byte, now time.Time) ([]alert.Alert, error) {
	var n notice
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("not a Zeek log record: %v", err)
	}
	if n.Note == "" {
		what := "this Zeek record"
		if n.Path != "" {
			what = "a Zeek " + n.Path + " record"
		}
		return nil, fmt.Errorf("%s has no note: only notice.log records are alerts, send the other logs to POST /api/v1/events", what)
	}
	ts := string(n.TS)
	var s string
	if json.Unmarshal(n.TS, &s) == nil {
		ts = s // JSON::use_json_iso8601 writes ISO times as strings
	}
	at := raise.Time(ts, now)
	// ts, note and the parties name a notice; Zeek's own uid is the
	// connection, and one connection may raise several notices.
	key := ts + "|" + n.Note + "|" + n.UID + "|" + n.Src + "|" + n.Dst + "|" + string(n.P)
	a := raise.New(Name, n.Note, n.Msg, "medium", at, now, key)
	src, dst := n.Src, n.Dst
	if src == "" {
		src = n.Orig
	}
	if dst == "" {
		dst = n.Resp
	}
	raise.Address(&a.Entities.SourceIPs, src)
	raise.Address(&a.Entities.DestIPs, dst)
	return []alert.Alert{a}, nil
}
