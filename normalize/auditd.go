package normalize

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/event"
)

// isAuditLine reports whether s is an auditd record ("type=... msg=audit(...)"),
// possibly behind "node=NAME " (audispd) or "audit: " (the kernel log).
func isAuditLine(s string) bool {
	s = trimAuditPrefix(strings.TrimSpace(s))
	return strings.HasPrefix(s, "type=")
}

func trimAuditPrefix(s string) string {
	s = strings.TrimPrefix(s, "audit: ")
	if strings.HasPrefix(s, "node=") {
		if i := strings.IndexByte(s, ' '); i >= 0 {
			return strings.TrimLeft(s[i:], " ")
		}
	}
	return s
}

// auditPair is one key=value of a record; quoted says the value was in
// double quotes (auditd quotes plain strings and hex-encodes the others).
type auditPair struct {
	key, val string
	quoted   bool
}

// splitAudit splits a record into its key=value pairs. A value is "quoted",
// 'quoted' (msg='...' of the user-space records) or runs to the next space.
// Tokens without '=' (such as the kernel's bare "audit(...):") are returned
// with an empty key.
func splitAudit(s string) []auditPair {
	pairs := make([]auditPair, 0, 24)
	for {
		s = strings.TrimLeft(s, " \t\x1d")
		if s == "" {
			return pairs
		}
		i := strings.IndexAny(s, "= \t\x1d")
		if i < 0 || s[i] != '=' {
			if i < 0 {
				i = len(s)
			}
			pairs = append(pairs, auditPair{val: s[:i]})
			s = s[i:]
			continue
		}
		key := s[:i]
		s = s[i+1:]
		var p auditPair
		p.key = key
		if s != "" && (s[0] == '"' || s[0] == '\'') {
			q := s[0]
			if j := strings.IndexByte(s[1:], q); j >= 0 {
				p.val, p.quoted = s[1:1+j], true
				s = s[j+2:]
				pairs = append(pairs, p)
				continue
			}
		}
		j := strings.IndexAny(s, " \t\x1d")
		if j < 0 {
			j = len(s)
		}
		p.val = s[:j]
		s = s[j:]
		pairs = append(pairs, p)
	}
}

// auditHexKeys are the fields auditd hex-encodes when their value holds a
// space, a quote or a control character; a0, a1, ... of EXECVE records too.
var auditHexKeys = map[string]bool{
	"proctitle": true, "cwd": true, "name": true, "comm": true, "exe": true,
	"cmd": true, "path": true, "acct": true, "key": true, "data": true, "ocomm": true,
}

// decodeHex returns the text of an unquoted even-length hex value.
func decodeHex(s string) (string, bool) {
	if len(s) == 0 || len(s)%2 != 0 {
		return "", false
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// execveArg reports whether k is an EXECVE argument key: aN or aN[i] (a long
// argument split in parts), returning N and whether it is a part.
func execveArg(k string) (n int, part bool, ok bool) {
	if len(k) < 2 || k[0] != 'a' {
		return 0, false, false
	}
	digits := k[1:]
	if i := strings.IndexByte(digits, '['); i >= 0 {
		if !strings.HasSuffix(digits, "]") {
			return 0, false, false
		}
		digits, part = digits[:i], true
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || digits[0] == '+' || digits[0] == '-' {
		return 0, false, false
	}
	return n, part, true
}

// maxExecveArgs bounds the argument count a record can make us assemble.
const maxExecveArgs = 4096

// auditFields sets the fields of one auditd record, keeping auditd's own key
// names (type, a0, exe, comm, key, uid, ...) as Sigma's auditd rules use
// them, plus ECS entity keys. It reports false when s is not a record.
func auditFields(f map[string]any, s string, ev *event.Event) bool {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "audit: "))
	if strings.HasPrefix(s, "node=") {
		node, rest, _ := strings.Cut(s, " ")
		node = strings.TrimPrefix(node, "node=")
		f["node"] = node
		if ev.Host == "" && node != "" {
			ev.Host = node
		}
		s = rest
	}
	if !strings.HasPrefix(strings.TrimLeft(s, " "), "type=") {
		return false
	}
	pairs := splitAudit(s)
	typ := ""
	for _, p := range pairs {
		if p.key == "type" {
			typ = p.val
			break
		}
	}
	var args map[int]string // EXECVE arguments by index
	for _, p := range pairs {
		if p.key == "" || p.key == "msg" && strings.HasPrefix(p.val, "audit(") {
			if strings.HasPrefix(p.val, "audit(") {
				auditHeader(f, p.val, ev)
			}
			continue
		}
		if p.key == "msg" && p.quoted { // user-space records: msg='op=... acct="x" res=success'
			for _, q := range splitAudit(p.val) {
				if q.key != "" && q.key != "type" && q.key != "msg" {
					f[q.key] = auditValue(q, typ)
				}
			}
			continue
		}
		if typ == "EXECVE" {
			if n, part, ok := execveArg(p.key); ok && n < maxExecveArgs {
				v := auditValue(p, typ)
				if args == nil {
					args = make(map[int]string)
				}
				if part {
					args[n] += v
				} else {
					args[n] = v
				}
				continue
			}
		}
		v := auditValue(p, typ)
		if p.key == "key" && !p.quoted && strings.IndexByte(v, '\x01') >= 0 {
			// Several rule keys are joined with 0x01 and hex-encoded.
			keys := strings.Split(v, "\x01")
			list := make([]any, len(keys))
			for i, k := range keys {
				list[i] = k
			}
			f["key"] = list
			continue
		}
		f[p.key] = v
	}
	if typ == "EXECVE" {
		execveFields(f, args)
	}
	f["type"] = typ
	auditECS(f, typ)
	ev.LogSource = event.LogSource{Product: "linux", Service: "auditd"}
	return true
}

// auditValue decodes a value: unquoted hex in the fields auditd hex-encodes
// (and in EXECVE arguments) becomes text; proctitle's NUL separators become
// spaces.
func auditValue(p auditPair, typ string) string {
	if p.quoted {
		return p.val
	}
	_, _, isArg := execveArg(p.key)
	if auditHexKeys[p.key] || isArg && typ == "EXECVE" {
		if s, ok := decodeHex(p.val); ok {
			if p.key == "proctitle" {
				s = strings.TrimRight(strings.ReplaceAll(s, "\x00", " "), " ")
			}
			return s
		}
	}
	return p.val
}

// execveFields writes a0.. (parts joined) and process.command_line.
func execveFields(f map[string]any, args map[int]string) {
	if len(args) == 0 {
		return
	}
	max := -1
	for n, v := range args {
		f["a"+strconv.Itoa(n)] = v
		if n > max {
			max = n
		}
	}
	var b strings.Builder
	for n := 0; n <= max; n++ {
		v, ok := args[n]
		if !ok {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v)
	}
	f["process.command_line"] = b.String()
}

// auditHeader reads "audit(1364481363.243:24287):" into the event time and
// audit.serial.
func auditHeader(f map[string]any, s string, ev *event.Event) {
	s = strings.TrimPrefix(s, "audit(")
	s = strings.TrimSuffix(strings.TrimSuffix(s, ":"), ")")
	ts, serial, ok := strings.Cut(s, ":")
	if !ok {
		return
	}
	if n, err := strconv.ParseInt(serial, 10, 64); err == nil {
		f["audit.serial"] = n
	}
	sec, frac, _ := strings.Cut(ts, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || secs <= 0 || secs >= 1e11 {
		return
	}
	var nsec int64
	if frac != "" && len(frac) <= 9 {
		if n, err := strconv.ParseInt(frac, 10, 64); err == nil && n >= 0 {
			for i := len(frac); i < 9; i++ {
				n *= 10
			}
			nsec = n
		}
	}
	ev.Time = time.Unix(secs, nsec).UTC()
}

// auditECS derives ECS entity keys from an auditd record.
func auditECS(f map[string]any, typ string) {
	if s := toString(f["exe"]); s != "" && s != "(null)" {
		setIfAbsent(f, "process.executable", s)
	}
	if typ == "PROCTITLE" {
		if s := toString(f["proctitle"]); s != "" {
			setIfAbsent(f, "process.command_line", s)
		}
	}
	if typ == "PATH" {
		if s := toString(f["name"]); s != "" && s != "(null)" {
			setIfAbsent(f, "file.path", s)
		}
	}
	// acct names the account of user-space records; the enriched AUID/UID
	// (after the 0x1d separator) are names of the numeric auid/uid.
	for _, k := range []string{"acct", "AUID", "UID"} {
		if s := toString(f[k]); s != "" && s != "unset" && s != "?" && s != "(null)" {
			setIfAbsent(f, "user.name", s)
			break
		}
	}
	if s := toString(f["uid"]); s != "" {
		setIfAbsent(f, "user.id", s)
	}
	if s := toString(f["addr"]); s != "" && s != "?" {
		setIP(f, "source", s)
	}
	switch toString(f["res"]) {
	case "success", "yes", "1":
		setIfAbsent(f, "event.outcome", "success")
	case "failed", "no", "0":
		setIfAbsent(f, "event.outcome", "failure")
	}
	if _, ok := f["event.outcome"]; !ok {
		switch toString(f["success"]) {
		case "yes":
			f["event.outcome"] = "success"
		case "no":
			f["event.outcome"] = "failure"
		}
	}
}
