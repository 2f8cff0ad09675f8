// Package raise holds what the alert normalizers of package intake share:
// building an alert.Alert from another detector's document with a stable
// id, and reading its untrusted fields into entities, levels, times and
// ATT&CK tags.
package raise

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/detect"
)

// Limits on what one field of an untrusted document may put in an alert:
// alerts are stored with their incident and shown to people.
const (
	maxTitle = 512
	maxName  = 256
	maxTags  = 32
)

// New starts an alert of another detector. key is what names this alert
// at its source (Suricata's flow and signature, Wazuh's alert id, ...):
// with the detector's name it makes the id, so a document sent twice gives
// the same alert, which the alarm stage applies once.
func New(detector, ruleID, title, level string, at, now time.Time, key string) alert.Alert {
	// The id's time is the source's: without one, a fixed time, so that
	// the same document sent again later still names the same alert.
	idTime := at
	if at.IsZero() {
		at, idTime = now, time.Unix(0, 0)
	}
	title = Clean(title, maxTitle)
	if title == "" {
		title = detector + " alert " + ruleID
	}
	return alert.Alert{
		ID:   detect.StableID(idTime, detector+"|"+key),
		Kind: alert.KindExternal,
		Rule: alert.Rule{ID: detector + ":" + Clean(ruleID, maxName), Title: title, Level: level,
			Tags: []string{"detector." + detector}},
		Time: at, Detected: now, FirstEventTime: at,
	}
}

// Clean trims s, drops control characters and cuts it to n bytes on a
// rune boundary.
func Clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// Address adds s to dst when it is one IP address (alert.Address):
// prefixes, ranges and lists from a document never become entities a
// playbook could block.
func Address(dst *[]string, s string) {
	if a, ok := alert.Address(s); ok && !contains(*dst, a) {
		*dst = append(*dst, a)
	}
}

// Name adds a host or user name to dst, cleaned; empty values and "-"
// (Zeek's and Wazuh's unset) are not names.
func Name(dst *[]string, s string) {
	s = Clean(s, maxName)
	if s == "" || s == "-" || contains(*dst, s) {
		return
	}
	*dst = append(*dst, s)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Tag adds a tag, lower-case with spaces as underscores, as Sigma writes
// them; past maxTags the rest are dropped.
func Tag(a *alert.Alert, t string) {
	t = strings.ToLower(strings.ReplaceAll(Clean(t, maxName), " ", "_"))
	if t == "" || len(a.Rule.Tags) >= maxTags || contains(a.Rule.Tags, t) {
		return
	}
	a.Rule.Tags = append(a.Rule.Tags, t)
}

// Attack adds an ATT&CK technique id (T1110.001) or tactic name
// (Credential Access, credential-access) as the alarm reads them:
// attack.t1110.001, attack.credential_access.
func Attack(a *alert.Alert, v string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	if isTechnique(v) {
		Tag(a, "attack."+strings.ToLower(v))
		return
	}
	Tag(a, "attack."+strings.ReplaceAll(strings.ReplaceAll(strings.ToLower(v), "-", "_"), " ", "_"))
}

func isTechnique(v string) bool {
	if len(v) < 5 || (v[0] != 'T' && v[0] != 't') {
		return false
	}
	main, sub, _ := strings.Cut(v[1:], ".")
	if _, err := strconv.Atoi(main); err != nil || len(main) != 4 {
		return false
	}
	if sub != "" {
		if _, err := strconv.Atoi(sub); err != nil || len(sub) != 3 {
			return false
		}
	}
	return true
}

// Time reads a time as detectors write it: RFC 3339, Suricata's and
// Wazuh's "2006-01-02T15:04:05.000000-0700", or Unix seconds with a
// fraction (Zeek). What does not parse, or lies more than a day in the
// future, is the zero time (New then uses the time of arrival).
func Time(s string, now time.Time) time.Time {
	s = strings.TrimSpace(s)
	var t time.Time
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999-0700", "2006-01-02T15:04:05.999999999Z0700"} {
		if v, err := time.Parse(layout, s); err == nil {
			t = v
			break
		}
	}
	if t.IsZero() {
		if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 && f < 1e11 {
			sec := int64(f)
			t = time.Unix(sec, int64((f-float64(sec))*1e9))
		}
	}
	if t.IsZero() || t.Year() < 1970 || t.After(now.Add(24*time.Hour)) {
		return time.Time{}
	}
	return t.UTC()
}

// LevelName reads a level written as a word: the Sigma levels and the
// usual synonyms of other tools. ok is false for anything else.
func LevelName(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "informational", "info", "information", "none", "debug":
		return "informational", true
	case "low", "minor", "notice":
		return "low", true
	case "medium", "moderate", "warning", "warn", "major":
		return "medium", true
	case "high", "error", "severe":
		return "high", true
	case "critical", "crit", "emergency", "alert", "fatal", "page":
		return "critical", true
	}
	return "", false
}
