package playbook

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/riposte-soar/riposte/internal/hostname"
)

// CACAO's own command types carry no connector name: the type and the
// step's target say what to reach (cacao.md §3). Binding decides which
// Riposte connector operation runs them, so that a playbook exported by
// another executor runs with the connectors Riposte has, and their safety
// rules (the http connector's address policy, the ssh connector's
// allowlist) still decide what is actually sent.

// Connector operations CACAO command types are bound to.
const (
	BindHTTPConnector = "http"
	BindHTTPOperation = "request"
	BindSSHConnector  = "ssh"
	BindSSHOperation  = "run_argv"
)

// Binding is where commands of one CACAO type go. Reason is set when no
// connector runs them; it says why.
type Binding struct {
	Connector, Operation string
	Reason               string
}

// BindCommandType returns the connector operation for a CACAO command type
// that names no connector; ok is false for types Riposte does not bind
// (their commands go to the connector named after the type, the way an
// x-riposte-connector pin or a custom connector registers them).
func BindCommandType(cmdType string) (b Binding, ok bool) {
	switch cmdType {
	case CmdHTTPAPI, CmdOpenC2HTTP, CmdOpenC2:
		return Binding{Connector: BindHTTPConnector, Operation: BindHTTPOperation}, true
	case CmdSSH:
		return Binding{Connector: BindSSHConnector, Operation: BindSSHOperation}, true
	case CmdPowerShell:
		return Binding{Reason: "powershell commands need a Windows remote (WinRM) connector, which Riposte does not have; " +
			"use an http-api command to an EDR or a riposte-connector command instead"}, true
	}
	return Binding{}, false
}

// openC2ContentType is the OpenC2 HTTPS transport's media type.
const openC2ContentType = "application/openc2+json;version=1.0"

// HTTPRequestArgs turns an http-api or openc2-http command of step st into
// the arguments of the http connector's request operation. The request
// target of the start line is substituted with URL escaping (a value stays
// inside its path segment or query value); the host, port and scheme come
// from an absolute URL in the start line or else from the step's http-api
// target (or agent) address. The http connector still checks the address
// it dials against its policy.
func HTTPRequestArgs(pb *Playbook, st *Step, c *Command, sc Scope) (map[string]any, error) {
	line := c.Command
	f := strings.Fields(line)
	if len(f) < 2 || len(f) > 3 {
		return nil, fmt.Errorf("%s command %q is not an HTTP start line (e.g. \"POST /api/v1/block HTTP/1.1\")", c.Type, line)
	}
	method := f[0]
	if !httpMethodRE.MatchString(method) {
		return nil, fmt.Errorf("%s command: method %q is not an upper-case HTTP method", c.Type, method)
	}
	openc2 := c.Type == CmdOpenC2HTTP || c.Type == CmdOpenC2
	if openc2 && method != "POST" {
		return nil, fmt.Errorf("%s command: the method must be POST, not %s", c.Type, method)
	}
	if len(f) == 3 && !strings.HasPrefix(strings.ToUpper(f[2]), "HTTP") {
		return nil, fmt.Errorf("%s command: %q is not an HTTP version", c.Type, f[2])
	}
	u, err := requestURL(pb, st, f[1], sc)
	if err != nil {
		return nil, fmt.Errorf("%s command: %w", c.Type, err)
	}
	if openc2 && (u.Path == "" || u.Path == "/") {
		// The OpenC2 HTTPS transport's endpoint; the decoder's default
		// start line for a draft openc2 command is "POST / HTTP/1.1".
		u.Path, u.RawPath = "/openc2", ""
	}
	args := map[string]any{"method": method, "url": u.String()}
	headers := map[string]any{}
	ctype := ""
	names := make([]string, 0, len(c.Headers))
	for n := range c.Headers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		vals := make([]string, 0, len(c.Headers[n]))
		for _, v := range c.Headers[n] {
			s, err := Substitute(v, sc, Raw)
			if err != nil {
				return nil, fmt.Errorf("%s command: header %s: %w", c.Type, n, err)
			}
			if strings.ContainsAny(s, "\r\n\x00") {
				return nil, fmt.Errorf("%s command: header %s has a line break or NUL in its value after substitution", c.Type, n)
			}
			vals = append(vals, s)
		}
		headers[n] = strings.Join(vals, ", ")
		if strings.EqualFold(n, "Content-Type") {
			ctype = strings.ToLower(strings.Join(vals, ", "))
		}
	}
	if openc2 && ctype == "" {
		headers["Content-Type"], ctype = openC2ContentType, openC2ContentType
	}
	esc := contentEscaper(ctype)
	var body string
	switch {
	case c.ContentB64 != "":
		body, err = SubstituteB64(c.ContentB64, sc, esc)
		if err == nil {
			var b []byte
			if b, err = decodeB64(body); err == nil {
				body = string(b)
			}
		}
	case c.Content != "":
		body, err = Substitute(c.Content, sc, esc)
	}
	if err != nil {
		return nil, fmt.Errorf("%s command content: %w", c.Type, err)
	}
	if openc2 && body == "" {
		return nil, fmt.Errorf("%s command has no OpenC2 message (content_b64)", c.Type)
	}
	if body != "" {
		args["text"] = body
	}
	if len(headers) > 0 {
		args["headers"] = headers
	}
	return args, nil
}

var httpMethodRE = regexp.MustCompile(`^[A-Z]{1,16}$`)

// contentEscaper picks how values are inserted in a request body: JSON
// string escaping unless the command declares another content type.
func contentEscaper(ctype string) Escaper {
	switch {
	case ctype == "" || strings.Contains(ctype, "json"):
		return JSONStringEscape
	case strings.Contains(ctype, "x-www-form-urlencoded"):
		return URLQueryEscape
	}
	return Raw
}

// segmentEscape escapes a value for a URL path: it stays inside one
// segment and cannot turn a relative reference into a scheme (":") or
// climb the path ("." and "..").
func segmentEscape(s string) string {
	switch s {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
}

// requestURL builds the URL of a request target from the start line.
func requestURL(pb *Playbook, st *Step, target string, sc Scope) (*url.URL, error) {
	var base *url.URL
	rest := target
	if lt := strings.ToLower(target); strings.HasPrefix(lt, "http://") || strings.HasPrefix(lt, "https://") {
		i := strings.Index(target, "://") + 3
		end := strings.IndexAny(target[i:], "/?#")
		if end < 0 {
			end = len(target) - i
		}
		auth, err := Substitute(target[i:i+end], sc, Raw)
		if err != nil {
			return nil, err
		}
		host, port, err := splitHostPort(auth)
		if err != nil {
			return nil, fmt.Errorf("start line URL: %w", err)
		}
		base = &url.URL{Scheme: strings.ToLower(target[:i-3]), Host: joinHost(host, port, strings.ToLower(target[:i-3]))}
		rest = target[i+end:]
	} else {
		var err error
		if base, err = targetBase(pb, st, sc); err != nil {
			return nil, err
		}
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i] // a fragment is never sent
	}
	pathT, queryT, _ := strings.Cut(rest, "?")
	p, err := Substitute(pathT, sc, segmentEscape)
	if err != nil {
		return nil, err
	}
	q, err := Substitute(queryT, sc, URLQueryEscape)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(p, "/") {
		// Relative to the target's URL path, as a browser resolves it.
		dir := base.EscapedPath()
		if i := strings.LastIndexByte(dir, '/'); i >= 0 {
			dir = dir[:i+1]
		} else {
			dir = "/"
		}
		p = dir + p
	}
	dec, err := url.PathUnescape(p)
	if err != nil {
		return nil, fmt.Errorf("request path %q: %v", p, err)
	}
	u := *base
	u.Path, u.RawPath, u.RawQuery, u.Fragment = dec, p, q, ""
	if u.EscapedPath() != p {
		u.RawPath = ""
	}
	return &u, nil
}

// targetBase is the scheme and authority (and a url address's path) of
// the one http-api address among the step's targets, or its agent's.
func targetBase(pb *Playbook, st *Step, sc Scope) (*url.URL, error) {
	at, id, err := addressed(pb, st, "http-api")
	if err != nil {
		return nil, err
	}
	if us := at.Address["url"]; len(us) > 0 {
		s, err := addrValue(us[0], sc)
		if err != nil {
			return nil, fmt.Errorf("target %s url: %w", id, err)
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("target %s url %q is not an absolute http or https URL", id, s)
		}
		if u.User != nil {
			return nil, fmt.Errorf("target %s url carries credentials: refused", id)
		}
		if _, _, err := splitHostPort(u.Host); err != nil {
			return nil, fmt.Errorf("target %s url: %w", id, err)
		}
		u.RawQuery, u.Fragment = "", ""
		return u, nil
	}
	host, err := addressHost(at, sc)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", id, err)
	}
	port, err := addrValue(at.Port, sc)
	if err != nil {
		return nil, fmt.Errorf("target %s port: %w", id, err)
	}
	if port == "" {
		port = "80"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("target %s port %q is not a port number", id, port)
	}
	scheme := "http"
	if port == "443" {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: joinHost(host, port, scheme)}, nil
}

// addressed finds the one agent-target of the step with an address:
// among its targets first, else its agent.
func addressed(pb *Playbook, st *Step, want string) (*AgentTarget, string, error) {
	var found []string
	for _, id := range st.Targets {
		if t := pb.Targets[id]; t != nil && len(t.Address) > 0 {
			found = append(found, id)
		}
	}
	if len(found) == 0 {
		if a := pb.Agents[st.Agent]; a != nil && len(a.Address) > 0 {
			return a, st.Agent, nil
		}
		return nil, "", fmt.Errorf("no %s target with an address: give the step a target of type %s (or an absolute URL)", want, want)
	}
	if len(found) > 1 {
		return nil, "", fmt.Errorf("%d targets with addresses (%s): a command is sent to one target", len(found), strings.Join(found, ", "))
	}
	return pb.Targets[found[0]], found[0], nil
}

// addressHost is the first dname, ipv4 or ipv6 address of at, checked to
// be a host name or an IP address and nothing else.
func addressHost(at *AgentTarget, sc Scope) (string, error) {
	for _, k := range []string{"dname", "ipv4", "ipv6"} {
		if vs := at.Address[k]; len(vs) > 0 {
			s, err := addrValue(vs[0], sc)
			if err != nil {
				return "", fmt.Errorf("address %s: %w", k, err)
			}
			h, err := hostname.Check(s)
			if err != nil {
				return "", fmt.Errorf("address %s %q: %w", k, s, err)
			}
			return h, nil
		}
	}
	return "", errors.New("the address has no dname, ipv4 or ipv6")
}

// addrValue substitutes variables in an address value (spec §7 allows
// references anywhere in an agent-target); the caller checks the result.
func addrValue(v any, sc Scope) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%v is not a string", v)
	}
	return Substitute(strings.TrimSpace(s), sc, Raw)
}

// splitHostPort checks an authority "host[:port]".
func splitHostPort(auth string) (host, port string, err error) {
	host = auth
	if h, p, e := net.SplitHostPort(auth); e == nil {
		host, port = h, p
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("port %q is not a port number", p)
		}
	}
	if host, err = hostname.Check(host); err != nil {
		return "", "", fmt.Errorf("host %q: %w", auth, err)
	}
	return host, port, nil
}

func joinHost(host, port, scheme string) string {
	if port == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, port)
}

// SSHCall is a CACAO ssh command made into an argv for the ssh
// connector's allowlist.
type SSHCall struct {
	Host string
	Port string // "" when the target names none
	Argv []string
}

// SSHArgs splits an ssh command into words the way a POSIX shell would
// for a simple command, then substitutes variables inside each word: a
// value always stays inside the one argv element it was placed in, so
// "x; rm -rf /" is one inert argument. Shell syntax beyond quoting
// (pipes, lists, redirections, expansions, globs) is refused: the ssh
// connector runs one allowlisted command, not a shell script.
func SSHArgs(pb *Playbook, st *Step, c *Command, sc Scope) (*SSHCall, error) {
	text := c.Command
	if c.CommandB64 != "" {
		b, err := decodeB64(c.CommandB64)
		if err != nil {
			return nil, fmt.Errorf("ssh command_b64: %v", err)
		}
		text = string(b)
	}
	words, err := shellWords(text)
	if err != nil {
		return nil, fmt.Errorf("ssh command %q: %w", text, err)
	}
	if len(words) == 0 {
		return nil, errors.New("ssh command is empty")
	}
	argv := make([]string, len(words))
	for i, w := range words {
		if argv[i], err = Substitute(w, sc, Raw); err != nil {
			return nil, fmt.Errorf("ssh command: %w", err)
		}
	}
	at, id, err := addressed(pb, st, "ssh")
	if err != nil {
		return nil, fmt.Errorf("ssh command: %w", err)
	}
	host, err := addressHost(at, sc)
	if err != nil {
		return nil, fmt.Errorf("ssh command: target %s: %w", id, err)
	}
	port, err := addrValue(at.Port, sc)
	if err != nil {
		return nil, fmt.Errorf("ssh command: target %s port: %w", id, err)
	}
	return &SSHCall{Host: host, Port: port, Argv: argv}, nil
}

// shellWords splits s into words with POSIX quoting: 'single', "double"
// (without $, ` or \ other than \" and \\ inside) and \x outside quotes.
// Anything a shell would treat as more than one simple command, or expand,
// is an error naming it.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				switch s[i] {
				case '$', '`':
					return nil, fmt.Errorf("%q inside double quotes (expansion) is not supported: quote it with single quotes", s[i])
				case '\\':
					if i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
						i++
					} else {
						return nil, errors.New(`a backslash inside double quotes escapes only \" and \\`)
					}
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		case ch == '\\':
			if i+1 >= len(s) || s[i+1] == '\n' {
				return nil, errors.New("a backslash at the end of the command")
			}
			i++
			w.WriteByte(s[i])
			inWord = true
		case strings.IndexByte(";&|<>()$`\n\r*?[]{}~#!", ch) >= 0:
			if (ch == '#' || ch == '~' || ch == '!') && inWord {
				w.WriteByte(ch) // only special at the start of a word
				continue
			}
			return nil, fmt.Errorf("shell syntax %q is not supported: the ssh connector runs one allowlisted command (quote the character to pass it literally)", ch)
		case ch == 0:
			return nil, errors.New("NUL in the command")
		default:
			w.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}
