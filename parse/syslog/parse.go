package syslog

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Message is one parsed syslog message.
type Message struct {
	Format         string    // "rfc5424" or "rfc3164"
	Facility       int       // -1 when no PRI was present
	Severity       int       // -1 when no PRI was present
	Timestamp      time.Time // zero when absent ("-") or unparseable in 3164
	Hostname       string
	AppName        string // 3164: the TAG without [pid]
	ProcID         string // 3164: the pid inside TAG[...]
	MsgID          string
	StructuredData map[string]map[string]string // SD-ID -> param -> value (unescaped); nil when none
	Message        string                       // the free-text MSG (a UTF-8 BOM stripped)
}

const (
	format5424 = "rfc5424"
	format3164 = "rfc3164"
	bom        = "\xEF\xBB\xBF"
)

var errEmpty = errors.New("syslog: empty message")

// Parse parses one message. now supplies the year (and zone) for RFC 3164
// timestamps that have none; a 3164 timestamp that would be more than a day
// in the future is taken as last year. A zero now means time.Now().
//
// Trailing CR, LF and NUL bytes are ignored, since UDP senders and files
// routinely end messages with them.
func Parse(b []byte, now time.Time) (Message, error) {
	for len(b) > 0 {
		if c := b[len(b)-1]; c != '\n' && c != '\r' && c != 0 {
			break
		}
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return Message{}, errEmpty
	}
	// One conversion up front: every string field is then a substring of s,
	// so a message costs one allocation instead of one per field.
	s := string(b)
	m := Message{Facility: -1, Severity: -1}
	if s[0] == '<' {
		pri, n, err := parsePRI(s)
		if err != nil {
			return Message{}, err
		}
		m.Facility, m.Severity = pri/8, pri%8
		s = s[n:]
		// A VERSION only means something after a PRI: without one the line
		// is a plain log line that may well start with a number.
		if v, n, ok := parseVersion(s); ok {
			if v != 1 {
				return Message{}, fmt.Errorf("syslog: unsupported version %d (only 1 is defined)", v)
			}
			m.Format = format5424
			if err := parse5424(s[n:], &m); err != nil {
				return Message{}, err
			}
			return m, nil
		}
	}
	m.Format = format3164
	parse3164(s, now, &m)
	return m, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parsePRI reads "<N>" at the start of s and returns N and the bytes used.
func parsePRI(s string) (pri, n int, err error) {
	const maxDigits = 5 // enough to report "<1234>" as out of range rather than malformed
	j := 1
	for j < len(s) && j <= maxDigits && isDigit(s[j]) {
		pri = pri*10 + int(s[j]-'0')
		j++
	}
	switch {
	case j == len(s):
		return 0, 0, fmt.Errorf("syslog: unterminated PRI %s: missing '>'", quote(s))
	case s[j] != '>' && isDigit(s[j]):
		return 0, 0, fmt.Errorf("syslog: PRI value %s... out of range (0-191)", s[1:j])
	case s[j] != '>':
		if j == 1 {
			return 0, 0, fmt.Errorf("syslog: invalid PRI: expected a number after '<', found %q", s[j])
		}
		return 0, 0, fmt.Errorf("syslog: invalid PRI: expected '>' after %s, found %q", quote(s[:j]), s[j])
	case j == 1:
		return 0, 0, errors.New("syslog: empty PRI \"<>\"")
	case pri > 191:
		return 0, 0, fmt.Errorf("syslog: PRI value %d out of range (0-191)", pri)
	}
	return pri, j + 1, nil
}

// parseVersion recognizes an RFC 5424 VERSION ("1 ") after the PRI. Other
// numbers count as a version only when a 5424 timestamp (or "-") follows,
// so that a BSD message such as "<13>42 apples" is not rejected.
func parseVersion(s string) (v, n int, ok bool) {
	if len(s) >= 2 && s[0] == '1' && s[1] == ' ' {
		return 1, 2, true
	}
	j := 0
	for j < len(s) && j < 3 && isDigit(s[j]) {
		v = v*10 + int(s[j]-'0')
		j++
	}
	if j == 0 || s[0] == '0' || j >= len(s) || s[j] != ' ' {
		return 0, 0, false
	}
	rest := s[j+1:]
	if strings.HasPrefix(rest, "- ") || looksLikeISODate(rest) {
		return v, j + 1, true
	}
	return 0, 0, false
}

var headerFields = [...]string{"TIMESTAMP", "HOSTNAME", "APP-NAME", "PROCID", "MSGID"}

// parse5424 parses what follows "<PRI>1 ".
func parse5424(s string, m *Message) error {
	var f [len(headerFields)]string
	for k, name := range headerFields {
		j := strings.IndexByte(s, ' ')
		if j < 0 {
			f[k], s = s, ""
		} else {
			f[k], s = s[:j], s[j+1:]
		}
		if f[k] == "" {
			return fmt.Errorf("syslog: rfc5424: missing %s", name)
		}
		if j < 0 && k < len(headerFields)-1 {
			return fmt.Errorf("syslog: rfc5424: missing %s", headerFields[k+1])
		}
	}
	if f[0] != "-" {
		t, ok := parseRFC3339(f[0], nil)
		if !ok {
			return fmt.Errorf("syslog: rfc5424: invalid timestamp %s", quote(f[0]))
		}
		m.Timestamp = t
	}
	m.Hostname, m.AppName, m.ProcID, m.MsgID = nilValue(f[1]), nilValue(f[2]), nilValue(f[3]), nilValue(f[4])

	switch {
	case s == "":
		// The RFC requires STRUCTURED-DATA, but some senders stop after
		// MSGID when they have nothing to say.
	case s[0] == '-' && (len(s) == 1 || s[1] == ' '):
		s = s[1:]
		if s != "" {
			s = s[1:]
		}
	case s[0] == '[':
		rest, err := parseSD(s, m)
		if err != nil {
			return err
		}
		if rest != "" {
			if rest[0] != ' ' {
				return fmt.Errorf("syslog: rfc5424: expected a space after STRUCTURED-DATA, found %q", rest[0])
			}
			rest = rest[1:]
		}
		s = rest
	default:
		// Some senders omit STRUCTURED-DATA entirely and start MSG right
		// after MSGID; keeping the text beats rejecting the message.
	}
	m.Message = strings.TrimPrefix(s, bom)
	return nil
}

func nilValue(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// isSDName reports whether c may appear in an SD-ID or PARAM-NAME: printable
// US-ASCII except the four bytes that delimit structured data.
func isSDName(c byte) bool {
	return c > ' ' && c < 0x7f && c != '=' && c != ']' && c != '"'
}

// parseSD parses one or more SD-ELEMENTs at the start of s and returns what
// follows them.
func parseSD(s string, m *Message) (string, error) {
	for len(s) > 0 && s[0] == '[' {
		s = s[1:]
		j := 0
		for j < len(s) && isSDName(s[j]) {
			j++
		}
		if j == len(s) {
			return "", fmt.Errorf("syslog: rfc5424: unterminated SD-ELEMENT %s", quote(s))
		}
		if j == 0 {
			if s[0] == ' ' || s[0] == ']' {
				return "", errors.New("syslog: rfc5424: empty SD-ID")
			}
			return "", fmt.Errorf("syslog: rfc5424: invalid character %q in SD-ID", s[0])
		}
		id := s[:j]
		s = s[j:]
		if m.StructuredData == nil {
			m.StructuredData = make(map[string]map[string]string, 1)
		}
		// A repeated SD-ID is forbidden by the RFC but merging keeps every
		// parameter a sloppy sender meant to send.
		params := m.StructuredData[id]
		if params == nil {
			params = make(map[string]string)
			m.StructuredData[id] = params
		}
		for {
			if s == "" {
				return "", fmt.Errorf("syslog: rfc5424: unterminated SD-ELEMENT %s", quote(id))
			}
			if s[0] == ']' {
				s = s[1:]
				break
			}
			if s[0] != ' ' {
				return "", fmt.Errorf("syslog: rfc5424: unexpected %q in SD-ELEMENT %s", s[0], quote(id))
			}
			for s != "" && s[0] == ' ' { // tolerate doubled spaces
				s = s[1:]
			}
			if s != "" && s[0] == ']' {
				continue
			}
			j := 0
			for j < len(s) && isSDName(s[j]) {
				j++
			}
			if j == len(s) {
				return "", fmt.Errorf("syslog: rfc5424: unterminated SD-ELEMENT %s", quote(id))
			}
			if j == 0 {
				return "", fmt.Errorf("syslog: rfc5424: invalid character %q in SD-PARAM name in %s", s[0], quote(id))
			}
			name := s[:j]
			if s[j] != '=' {
				return "", fmt.Errorf("syslog: rfc5424: expected '=' after SD-PARAM %s in %s, found %q", quote(name), quote(id), s[j])
			}
			s = s[j+1:]
			if s == "" || s[0] != '"' {
				return "", fmt.Errorf("syslog: rfc5424: value of SD-PARAM %s in %s is not quoted", quote(name), quote(id))
			}
			val, n, ok := sdValue(s[1:])
			if !ok {
				return "", fmt.Errorf("syslog: rfc5424: unterminated value of SD-PARAM %s in %s", quote(name), quote(id))
			}
			s = s[1+n:]
			// The RFC allows a name to repeat; the map holds one value, and
			// the first is the one the origin SD-ID (and most senders) treat
			// as primary.
			if _, dup := params[name]; !dup {
				params[name] = val
			}
		}
	}
	return s, nil
}

// sdValue reads a PARAM-VALUE up to its closing quote (s starts after the
// opening one) and returns the unescaped value and the bytes used including
// the closing quote. Only \" \\ and \] are escapes; any other backslash is
// kept, as RFC 5424 section 6.3.3 requires.
func sdValue(s string) (string, int, bool) {
	end := strings.IndexByte(s, '"')
	if end < 0 {
		return "", 0, false
	}
	if strings.IndexByte(s[:end], '\\') < 0 {
		return s[:end], end + 1, true
	}
	var sb strings.Builder
	sb.Grow(end)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return sb.String(), i + 1, true
		case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\' || s[i+1] == ']'):
			i++
			c = s[i]
		}
		sb.WriteByte(c)
	}
	return "", 0, false
}

// parse3164 parses what follows the PRI (if any) of a BSD-style message.
// It never fails: whatever cannot be recognized stays in Message.
func parse3164(s string, now time.Time, m *Message) {
	t, n, ok := parse3164Time(s, now)
	if ok {
		m.Timestamp = t
		s = s[n:]
		for s != "" && s[0] == ' ' {
			s = s[1:]
		}
	}
	hostAndTag(s, ok, m)
	m.Message = strings.TrimPrefix(m.Message, bom)
}

// hostAndTag splits "HOST TAG: msg". The hostname is missing from messages
// written to /dev/log and that cannot be seen directly, so the shape of the
// next tokens decides: a first token that is clearly a TAG (it carries
// "[pid]" or ends in ':', which no hostname does) means there is no host;
// otherwise a TAG in second place means the first token is the host.
func hostAndTag(s string, hadTimestamp bool, m *Message) {
	t1, after1, more := cutSpace(s)
	if app, pid, ok := tagToken(t1); ok {
		m.AppName, m.ProcID, m.Message = app, pid, after1
		return
	}
	if more && after1 != "" {
		t2, after2, _ := cutSpace(after1)
		if app, pid, ok := tagToken(t2); ok {
			m.Hostname, m.AppName, m.ProcID, m.Message = t1, app, pid, after2
			return
		}
		// RFC 3164 places HOSTNAME after TIMESTAMP even without a TAG
		// ("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!"). Without a
		// timestamp there is no header at all, so the text is all MSG.
		if hadTimestamp {
			m.Hostname, m.Message = t1, after1
			return
		}
	}
	m.Message = s
}

func cutSpace(s string) (before, after string, found bool) {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func isTagChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) ||
		c == '-' || c == '_' || c == '.' || c == '/' || c == '@' || c == '(' || c == ')'
}

// tagToken recognizes a whole token of the form "name[pid]:", "name[pid]"
// or "name:". A bare word is not a tag: it is indistinguishable from a
// hostname or the first word of the message.
func tagToken(t string) (app, pid string, ok bool) {
	i := 0
	for i < len(t) && isTagChar(t[i]) {
		i++
	}
	if i == 0 {
		return "", "", false
	}
	app = t[:i]
	marked := false
	if i < len(t) && t[i] == '[' {
		j := strings.IndexByte(t[i+1:], ']')
		if j < 0 {
			return "", "", false
		}
		pid = t[i+1 : i+1+j]
		i += j + 2
		marked = true
	}
	if i < len(t) && t[i] == ':' {
		i++
		marked = true
	}
	if i != len(t) || !marked {
		return "", "", false
	}
	return app, pid, true
}

// quote quotes s for an error message, cut short so that a hostile sender
// cannot make log lines about its own messages arbitrarily long.
func quote(s string) string {
	const limit = 64
	if len(s) > limit {
		return fmt.Sprintf("%q...", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}
