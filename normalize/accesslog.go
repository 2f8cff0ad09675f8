package normalize

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/event"
)

// ParserAccessLog is what FromLine returns for a web server access log line.
const ParserAccessLog = "accesslog"

// accessLog parses the NCSA common and combined formats that Apache and
// nginx write by default:
//
//	203.0.113.9 - frank [10/Oct/2026:13:55:36 -0700] "GET /a.php?id=1 HTTP/1.1" 200 2326 "http://ref/" "curl/8.0"
//
// Fields get both the W3C names SigmaHQ's webserver rules use (cs-method,
// cs-uri-query, ...) and ECS names. It reports false for anything else, so
// the caller can try other parsers.
func accessLog(s string, ev *event.Event) bool {
	// client, ident, user
	client, rest, ok := strings.Cut(s, " ")
	if !ok || client == "" || !looksLikeHost(client) {
		return false
	}
	_, rest, ok = strings.Cut(rest, " ")
	if !ok {
		return false
	}
	user, rest, ok := strings.Cut(rest, " ")
	if !ok || !strings.HasPrefix(rest, "[") {
		return false
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return false
	}
	ts, err := time.Parse("02/Jan/2006:15:04:05 -0700", rest[1:end])
	if err != nil {
		return false
	}
	rest = strings.TrimPrefix(rest[end+1:], " ")
	request, rest, ok := quoted(rest)
	if !ok {
		return false
	}
	statusS, rest, _ := strings.Cut(strings.TrimPrefix(rest, " "), " ")
	status, err := strconv.Atoi(statusS)
	if err != nil {
		return false
	}
	bytesS, rest, _ := strings.Cut(rest, " ")
	referrer, rest, _ := quoted(strings.TrimPrefix(rest, " "))
	agent, _, _ := quoted(strings.TrimPrefix(rest, " "))

	f := ensureFields(ev, 24)
	f["c-ip"] = client
	setIP(f, "source", client)
	if user != "-" {
		f["cs-username"] = user
		f["user.name"] = user
	}
	f["cs-request"] = request
	method, target, version := splitRequest(request)
	if method != "" {
		f["cs-method"] = method
		f["http.request.method"] = method
	}
	if version != "" {
		f["cs-version"] = version
	}
	if target != "" {
		f["url.original"] = target
		stem, query, _ := strings.Cut(target, "?")
		f["cs-uri-stem"] = stem
		f["url.path"] = stem
		f["cs-uri-query"] = query
		if query != "" {
			f["url.query"] = query
		}
		// Rules look for attack text in the decoded form too.
		if dec, err := url.PathUnescape(target); err == nil && dec != target {
			f["url.decoded"] = dec
		}
	}
	f["sc-status"] = int64(status)
	f["http.response.status_code"] = int64(status)
	if n, err := strconv.ParseInt(bytesS, 10, 64); err == nil {
		f["sc-bytes"] = n
		f["http.response.body.bytes"] = n
	}
	if referrer != "" && referrer != "-" {
		f["cs-referer"] = referrer
		f["http.request.referrer"] = referrer
	}
	if agent != "" && agent != "-" {
		f["cs-user-agent"] = agent
		f["user_agent.original"] = agent
	}
	ev.Time = ts.UTC()
	ev.LogSource = event.LogSource{Category: "webserver"}
	return true
}

func looksLikeHost(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == ':' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// quoted reads a "..." field with \" escapes as nginx writes them.
func quoted(s string) (string, string, bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, false
	}
	var sb strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				sb.WriteByte(s[i])
			}
		case '"':
			return sb.String(), s[i+1:], true
		default:
			sb.WriteByte(c)
		}
	}
	return "", s, false
}

func splitRequest(r string) (method, target, version string) {
	parts := strings.SplitN(r, " ", 3)
	switch len(parts) {
	case 3:
		return parts[0], parts[1], parts[2]
	case 2:
		return parts[0], parts[1], ""
	}
	return "", r, ""
}
