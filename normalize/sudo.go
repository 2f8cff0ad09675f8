package normalize

import (
	"regexp"
	"strings"
)

var reSudoSession = regexp.MustCompile(`session (?:opened|closed) for user ([^\s(]+)(?:\(uid=\d+\))? by ([^\s(]*)`)

// sudoFields sets the fields of one sudo message:
//
//	alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash
//	alice : 3 incorrect password attempts ; TTY=pts/0 ; ... ; COMMAND=/bin/bash
//	alice : user NOT in sudoers ; TTY=pts/0 ; ... ; COMMAND=/bin/bash
//
// A reason before the KEY=value list means sudo refused: event.outcome is
// failure and the reason goes to event.reason. COMMAND is always last and is
// taken whole, since the command itself may contain " ; ".
func sudoFields(f map[string]any, msg string) {
	msg = strings.TrimSpace(msg)
	if strings.HasPrefix(msg, "pam_unix(") {
		if m := reSudoSession.FindStringSubmatch(msg); m != nil {
			f["sudo.target_user"] = m[1]
			if m[2] != "" {
				f["user.name"] = m[2]
			}
			return
		}
		pamFields(f, msg)
		return
	}
	user, rest, ok := strings.Cut(msg, " : ")
	if !ok || strings.ContainsAny(user, " \t") || user == "" {
		return
	}
	f["user.name"] = user
	if i := strings.Index(rest, "COMMAND="); i >= 0 && (i == 0 || strings.HasSuffix(rest[:i], " ; ")) {
		f["process.command_line"] = rest[i+len("COMMAND="):]
		rest = strings.TrimSuffix(rest[:i], " ; ")
	}
	var reasons []string
	for _, part := range strings.Split(rest, " ; ") {
		part = strings.TrimSpace(part)
		k, v, isKV := strings.Cut(part, "=")
		if !isKV || !isUpperWord(k) {
			if part != "" {
				reasons = append(reasons, part)
			}
			continue
		}
		switch k {
		case "TTY":
			f["sudo.tty"] = v
		case "PWD":
			f["sudo.pwd"] = v
		case "USER":
			f["sudo.target_user"] = v
		case "GROUP":
			f["sudo.target_group"] = v
		case "ENV":
			f["sudo.env"] = v
		case "TSID":
			f["sudo.tsid"] = v
		}
	}
	f["event.action"] = "sudo"
	if len(reasons) > 0 {
		f["event.outcome"] = "failure"
		f["event.reason"] = strings.Join(reasons, "; ")
	} else {
		f["event.outcome"] = "success"
	}
}

func isUpperWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}
