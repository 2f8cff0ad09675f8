package normalize

import (
	"net/netip"
	"strings"
)

// setIfAbsent sets an ECS key unless the event already carries it (an agent
// such as winlogbeat may have filled it better than we can derive it).
func setIfAbsent(f map[string]any, k string, v any) {
	if _, ok := f[k]; !ok {
		f[k] = v
	}
}

// present reports whether s is a real value: Windows writes "-" for none.
func present(s string) bool {
	return s != "" && s != "-"
}

// firstString returns the first of the named fields that holds a real value.
func firstString(f map[string]any, names ...string) string {
	for _, n := range names {
		if s := toString(f[n]); present(s) {
			return s
		}
	}
	return ""
}

// splitUser splits "DOMAIN\user" into its parts.
func splitUser(s string) (domain, name string) {
	if i := strings.LastIndexByte(s, '\\'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return "", s
}

// setUser sets user.name (and user.domain) from a possibly qualified name.
func setUser(f map[string]any, user, domain string) {
	d, n := splitUser(user)
	if d != "" {
		domain = d
	}
	if !present(n) {
		return
	}
	setIfAbsent(f, "user.name", n)
	if present(domain) {
		setIfAbsent(f, "user.domain", domain)
	}
}

// setIP sets an ECS address key when s is an IP address; IPv4-mapped IPv6
// addresses are written as IPv4 so the same host always looks the same.
// A value that is not an address (a host name) goes to the .address key.
func setIP(f map[string]any, side, s string) {
	s = strings.TrimSpace(s)
	if !present(s) {
		return
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		setIfAbsent(f, side+".address", s)
		return
	}
	setIfAbsent(f, side+".ip", a.Unmap().String())
}

// setPort sets an ECS port key when v is a port number.
func setPort(f map[string]any, key string, v any) {
	n, ok := toInt64(v)
	if !ok || n < 0 || n > 65535 {
		return
	}
	setIfAbsent(f, key, n)
}

// setHashes reads Sysmon's "SHA1=...,MD5=...,SHA256=...,IMPHASH=..." into
// file.hash.* (lower case, as IOC lists usually are).
func setHashes(f map[string]any, s string) {
	for s != "" {
		var part string
		part, s, _ = strings.Cut(s, ",")
		alg, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || val == "" {
			continue
		}
		var key string
		switch strings.ToUpper(alg) {
		case "MD5":
			key = "file.hash.md5"
		case "SHA1":
			key = "file.hash.sha1"
		case "SHA256":
			key = "file.hash.sha256"
		case "IMPHASH":
			key = "file.pe.imphash"
		default:
			continue
		}
		setIfAbsent(f, key, strings.ToLower(val))
	}
}
