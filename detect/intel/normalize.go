package intel

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// The normalization functions below (spec §7.1) are used for indicator
// values at import and for event values at match time. The append* forms
// write into a caller's buffer so that matching allocates nothing.

// Normalize returns value in normal form for kind. Address kinds are
// refined: Normalize(KindIPv4, "2001:db8::/32") returns KindCIDR6, and a
// prefix of full length is a single address.
func Normalize(kind Kind, value string) (Kind, string, error) {
	return normalize(kind, value, false)
}

func normalize(kind Kind, value string, singleLabel bool) (Kind, string, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return kind, "", errors.New("empty value")
	}
	if len(value) > maxValueLen {
		return kind, "", fmt.Errorf("value longer than %d bytes", maxValueLen)
	}
	switch {
	case isIPKind(kind):
		return normIP(value)
	case isHashKind(kind):
		b, ok := appendHash(nil, value, hashLen(kind))
		if !ok {
			return kind, "", fmt.Errorf("%q is not a %s hash (%d hex digits)", clip(value), kind, 2*hashLen(kind))
		}
		return kind, string(b), nil
	}
	var (
		b  []byte
		ok bool
	)
	switch kind {
	case KindDomain:
		if _, err := netip.ParseAddr(strings.Trim(value, "[]")); err == nil {
			return kind, "", fmt.Errorf("%q is an IP address, not a domain", clip(value))
		}
		b, ok = appendDomain(nil, value)
		if !ok {
			return kind, "", fmt.Errorf("%q is not a valid domain name", clip(value))
		}
		if !singleLabel && !strings.Contains(string(b), ".") {
			return kind, "", fmt.Errorf("%q is a single-label name", clip(value))
		}
		if tld := string(b[strings.LastIndexByte(string(b), '.')+1:]); isDigits(tld) {
			return kind, "", fmt.Errorf("%q has a numeric top-level label: not a domain (nor an IP address)", clip(value))
		}
	case KindURL:
		if !strings.Contains(value, "://") {
			value = "http://" + value
		}
		b, _, _, ok = appendURL(nil, value)
		if !ok {
			return kind, "", fmt.Errorf("%q is not a valid URL", clip(value))
		}
	case KindEmail:
		b, ok = appendEmail(nil, value)
		if !ok {
			return kind, "", fmt.Errorf("%q is not an e-mail address", clip(value))
		}
	case KindJA3:
		b, ok = appendHash(nil, value, 16)
		if !ok {
			return kind, "", fmt.Errorf("%q is not a JA3 fingerprint (32 hex digits)", clip(value))
		}
	case KindFilename:
		b = appendFold(nil, basename(value))
		ok = len(b) > 0
	case KindUserAgent, KindMutex:
		b = appendFold(nil, value)
		ok = true
	case KindRegKey:
		b = appendRegKey(nil, value)
		ok = len(b) > 0
	case KindASN:
		b, ok = appendASN(nil, value)
		if !ok {
			return kind, "", fmt.Errorf("%q is not an AS number", clip(value))
		}
	case KindPattern:
		return kind, value, nil
	default:
		return kind, "", fmt.Errorf("unknown indicator kind %q", kind)
	}
	if !ok || len(b) == 0 {
		return kind, "", fmt.Errorf("%q is not a valid %s", clip(value), kind)
	}
	return kind, string(b), nil
}

// maxValueLen bounds indicator values (long URLs exist; megabyte ones are
// attacks on the importer).
const maxValueLen = 8192

// clip shortens a value for error messages.
func clip(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Detect finds the kind of value (spec §6 kind: auto) and normalizes it:
// IP or CIDR, hash by hex length, URL by scheme, AS number, e-mail by "@",
// domain by label syntax.
func Detect(value string) (Kind, string, error) {
	return detect(value, false)
}

func detect(value string, singleLabel bool) (Kind, string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", "", errors.New("empty value")
	}
	if k, s, err := normIP(v); err == nil {
		return k, s, nil
	}
	if strings.Contains(v, "://") {
		return normalize(KindURL, v, singleLabel)
	}
	if isHex(v) {
		switch len(v) {
		case 32:
			return normalize(KindMD5, v, false)
		case 40:
			return normalize(KindSHA1, v, false)
		case 64:
			return normalize(KindSHA256, v, false)
		case 128:
			return normalize(KindSHA512, v, false)
		}
	}
	if len(v) > 2 && (v[0] == 'A' || v[0] == 'a') && (v[1] == 'S' || v[1] == 's') && isDigits(v[2:]) {
		return normalize(KindASN, v, false)
	}
	if strings.Contains(v, "@") {
		return normalize(KindEmail, v, false)
	}
	if strings.Contains(v, "/") {
		// host/path without a scheme, as some lists write URLs
		if host, _, _ := strings.Cut(v, "/"); strings.Contains(host, ".") && !strings.ContainsAny(v, " \t") {
			if _, _, err := normalize(KindDomain, host, false); err == nil {
				return normalize(KindURL, v, false)
			}
		}
	}
	if k, s, err := normalize(KindDomain, v, singleLabel); err == nil {
		return k, s, nil
	}
	return "", "", fmt.Errorf("cannot tell what kind of indicator %q is", clip(v))
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if unhex(s[i]) < 0 {
			return false
		}
	}
	return s != ""
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Refang undoes the usual defanging of published indicators: hxxp(s)://,
// [.] (.) {.} [dot], [:]//, [@] [at], and brackets around the dots of IPs.
func Refang(s string) string {
	if !strings.ContainsAny(s, "[](){}xX") {
		return s
	}
	r := strings.NewReplacer(
		"[.]", ".", "(.)", ".", "{.}", ".", "[dot]", ".", "(dot)", ".", "[DOT]", ".",
		"[:]", ":", "[://]", "://", "[@]", "@", "[at]", "@", "(at)", "@", "[AT]", "@",
		"[/]", "/",
	)
	s = r.Replace(s)
	lower := strings.ToLower(s)
	for _, p := range [][2]string{{"hxxps://", "https://"}, {"hxxp://", "http://"}, {"fxp://", "ftp://"}, {"hxxps[://]", "https://"}} {
		if strings.HasPrefix(lower, p[0]) {
			s = p[1] + s[len(p[0]):]
			break
		}
	}
	return s
}

// normIP parses an address or prefix, unmaps IPv4-mapped IPv6, drops the
// zone and masks prefixes.
func normIP(v string) (Kind, string, error) {
	v = strings.TrimSpace(v)
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			// a zone or brackets confuse ParsePrefix; retry without
			a, bits, ok := strings.Cut(v, "/")
			a = strings.Trim(a, "[]")
			if i := strings.IndexByte(a, '%'); i >= 0 {
				a = a[:i]
			}
			if !ok {
				return "", "", err
			}
			p, err = netip.ParsePrefix(a + "/" + bits)
			if err != nil {
				return "", "", fmt.Errorf("%q is not an IP network", clip(v))
			}
		}
		p = unmapPrefix(p).Masked()
		if p.IsSingleIP() {
			return addrKind(p.Addr()), p.Addr().String(), nil
		}
		if p.Addr().Is4() {
			return KindCIDR4, p.String(), nil
		}
		return KindCIDR6, p.String(), nil
	}
	a, err := netip.ParseAddr(strings.Trim(v, "[]"))
	if err != nil {
		return "", "", fmt.Errorf("%q is not an IP address", clip(v))
	}
	a = a.Unmap().WithZone("")
	return addrKind(a), a.String(), nil
}

func addrKind(a netip.Addr) Kind {
	if a.Is4() {
		return KindIPv4
	}
	return KindIPv6
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr().WithZone("")
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return netip.PrefixFrom(a, p.Bits())
}

// parseObservedIP reads an address from an event value; no allocation.
func parseObservedIP(s string) (netip.Addr, bool) {
	if len(s) > 0 && s[0] == '[' {
		s = strings.Trim(s, "[]")
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

var nonRoutable4 = []struct {
	p   netip.Prefix
	why string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a 'this network' address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (CGNAT) address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("::/128"), "the unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("fc00::/7"), "a private (ULA) address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

// nonRoutable says why an address or network of kind k should not be an
// active detection ("" when it may be).
func nonRoutable(k Kind, v string) string {
	var p netip.Prefix
	switch k {
	case KindIPv4, KindIPv6:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return ""
		}
		p = netip.PrefixFrom(a, a.BitLen())
	default:
		var err error
		if p, err = netip.ParsePrefix(v); err != nil {
			return ""
		}
	}
	for _, r := range nonRoutable4 {
		if r.p.Overlaps(p) {
			if p.IsSingleIP() || r.p.Bits() <= p.Bits() {
				return r.why
			}
			return "a network overlapping " + r.p.String() + " (" + strings.TrimPrefix(strings.TrimPrefix(r.why, "a "), "the ") + ")"
		}
	}
	return ""
}

// hashLen is the byte length of a hash kind.
func hashLen(k Kind) int {
	switch k {
	case KindMD5, KindJA3:
		return 16
	case KindSHA1:
		return 20
	case KindSHA256:
		return 32
	case KindSHA512:
		return 64
	}
	return 0
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// appendHash appends the lower-case hex of s when it is n bytes of hex.
func appendHash(dst []byte, s string, n int) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if len(s) != 2*n {
		return dst, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unhex(c) < 0 {
			return dst, false
		}
		if c >= 'A' && c <= 'F' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, true
}

// decodeHex fills out from the hex digits in s; len(s) must be 2*len(out).
func decodeHex(out []byte, s string) bool {
	if len(s) != 2*len(out) {
		return false
	}
	for i := range out {
		hi, lo := unhex(s[2*i]), unhex(s[2*i+1])
		if hi < 0 || lo < 0 {
			return false
		}
		out[i] = byte(hi<<4 | lo)
	}
	return true
}

// appendFold appends s lower-cased (Unicode simple folding to lower case).
func appendFold(dst []byte, s string) []byte {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += n
	}
	return dst
}

// basename returns the last element of a Windows or POSIX path.
func basename(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexAny(s, `\/`); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// regHives maps long and kernel hive names to the short names Sysmon logs.
var regHives = [][2]string{
	{`hkey_local_machine`, `hklm`},
	{`hkey_current_user`, `hkcu`},
	{`hkey_users`, `hku`},
	{`hkey_classes_root`, `hkcr`},
	{`hkey_current_config`, `hkcc`},
	{`\registry\machine`, `hklm`},
	{`\registry\user`, `hku`},
}

// appendRegKey appends a registry path folded, with the hive abbreviated and
// no trailing backslash.
func appendRegKey(dst []byte, s string) []byte {
	start := len(dst)
	dst = appendFold(dst, s)
	key := dst[start:]
	for _, h := range regHives {
		if len(key) >= len(h[0]) && string(key[:len(h[0])]) == h[0] &&
			(len(key) == len(h[0]) || key[len(h[0])] == '\\') {
			n := copy(key, h[1])
			n += copy(key[n:], key[len(h[0]):])
			dst = dst[:start+n]
			break
		}
	}
	for len(dst) > start && dst[len(dst)-1] == '\\' {
		dst = dst[:len(dst)-1]
	}
	return dst
}

// appendASN appends the decimal AS number of "AS15169", "as15169" or
// "15169".
func appendASN(dst []byte, s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 2 && (s[0] == 'A' || s[0] == 'a') && (s[1] == 'S' || s[1] == 's') {
		s = s[2:]
	}
	s = strings.TrimLeft(s, "0")
	if s == "" || len(s) > 10 || !isDigits(s) {
		return dst, false
	}
	return append(dst, s...), true
}

// appendEmail appends a lower-cased address; "Name <a@b>" and "mailto:"
// forms are reduced to the address.
func appendEmail(dst []byte, s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		s = s[i+1 : len(s)-1]
	}
	if len(s) > 7 && strings.EqualFold(s[:7], "mailto:") {
		s = s[7:]
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n<>,;") {
		return dst, false
	}
	start := len(dst)
	dst = appendFold(dst, s[:at])
	dst = append(dst, '@')
	var ok bool
	dst, ok = appendDomain(dst, s[at+1:])
	if !ok {
		return dst[:start], false
	}
	return dst, true
}

// appendDomain appends a domain name lower-cased, without its trailing dot,
// with non-ASCII labels in punycode. It rejects names that are not DNS
// names. ASCII names, nearly all of them, take a path that allocates
// nothing and accepts the underscores of service names (_dmarc); a name
// with any other character goes through IDNA's UTS 46 lookup mapping
// first, so that "MÜNCHEN.example", "münchen.example" and its punycode are
// one name, as a resolver sees them.
func appendDomain(dst []byte, s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 1024 {
		return dst, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			a, err := idna.Lookup.ToASCII(s)
			if err != nil {
				return dst, false
			}
			s = a
			break
		}
	}
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return dst, false
	}
	start := len(dst)
	for {
		label, rest, sep := strings.Cut(s, ".")
		var ok bool
		if dst, ok = appendLabel(dst, label); !ok {
			return dst[:start], false
		}
		if !sep {
			break
		}
		dst = append(dst, '.')
		s = rest
	}
	if len(dst)-start > 253 {
		return dst[:start], false
	}
	return dst, true
}

// appendLabel appends one ASCII label lower-cased.
func appendLabel(dst []byte, label string) ([]byte, bool) {
	if label == "" || len(label) > 63 {
		return dst, false
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		default:
			return dst, false
		}
		dst = append(dst, c)
	}
	return dst, true
}

// defaultPort reports whether port is the scheme's default.
func defaultPort(scheme []byte, port string) bool {
	switch string(scheme) {
	case "http", "ws":
		return port == "80"
	case "https", "wss":
		return port == "443"
	case "ftp":
		return port == "21"
	}
	return false
}

// isUnreserved reports RFC 3986 unreserved characters, which are decoded
// when percent-encoded.
func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// appendURL appends the normal form of an absolute URL: scheme and host
// lower-cased, IDNA host, no default port, no fragment, percent-encoded
// unreserved characters decoded (other escapes with upper-case hex), an
// empty path written "/"; path and query keep their case. hostStart and
// hostEnd locate the host in dst (without brackets for IPv6 literals).
func appendURL(dst []byte, s string) (out []byte, hostStart, hostEnd int, ok bool) {
	s = strings.TrimSpace(s)
	i := strings.Index(s, "://")
	if i <= 0 || i > 32 {
		return dst, 0, 0, false
	}
	start := len(dst)
	fail := func() ([]byte, int, int, bool) { return dst[:start], 0, 0, false }
	for j := 0; j < i; j++ {
		c := s[j]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9' && j > 0, (c == '+' || c == '-' || c == '.') && j > 0:
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		default:
			return fail()
		}
		dst = append(dst, c)
	}
	scheme := dst[start:]
	dst = append(dst, "://"...)
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	auth, tail := rest[:end], rest[end:]
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		dst = append(dst, auth[:at+1]...)
		auth = auth[at+1:]
	}
	host, port := auth, ""
	if strings.HasPrefix(auth, "[") {
		j := strings.IndexByte(auth, ']')
		if j < 0 {
			return fail()
		}
		host = auth[1:j]
		if r := auth[j+1:]; r != "" {
			if r[0] != ':' {
				return fail()
			}
			port = r[1:]
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return fail()
		}
		dst = append(dst, '[')
		hostStart = len(dst)
		dst = a.WithZone("").AppendTo(dst)
		hostEnd = len(dst)
		dst = append(dst, ']')
	} else {
		if j := strings.LastIndexByte(auth, ':'); j >= 0 {
			host, port = auth[:j], auth[j+1:]
		}
		hostStart = len(dst)
		var hok bool
		dst, hok = appendDomain(dst, host)
		if !hok {
			return fail()
		}
		hostEnd = len(dst)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || !isDigits(port) {
			return fail()
		}
		if p := strings.TrimLeft(port, "0"); !defaultPort(scheme, p) {
			dst = append(dst, ':')
			if p == "" {
				p = "0"
			}
			dst = append(dst, p...)
		}
	}
	if j := strings.IndexByte(tail, '#'); j >= 0 {
		tail = tail[:j]
	}
	if tail == "" || tail[0] == '?' {
		dst = append(dst, '/')
	}
	for j := 0; j < len(tail); j++ {
		c := tail[j]
		if c == '%' && j+2 < len(tail) {
			hi, lo := unhex(tail[j+1]), unhex(tail[j+2])
			if hi >= 0 && lo >= 0 {
				d := byte(hi<<4 | lo)
				if isUnreserved(d) {
					dst = append(dst, d)
				} else {
					dst = append(dst, '%', upperHex(tail[j+1]), upperHex(tail[j+2]))
				}
				j += 2
				continue
			}
		}
		if c <= ' ' || c == 0x7f {
			return fail()
		}
		dst = append(dst, c)
	}
	return dst, hostStart, hostEnd, true
}

func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}
