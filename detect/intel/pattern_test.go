package intel

import (
	"strings"
	"testing"
)

// dump renders a parsed pattern with explicit grouping.
func dump(n *pnode) string {
	if n == nil {
		return "<nil>"
	}
	q := ""
	if len(n.qualifiers) > 0 {
		q = " {" + strings.Join(n.qualifiers, "; ") + "}"
	}
	switch n.kind {
	case nObsFollowedBy:
		return "(" + dump(n.left) + " FOLLOWEDBY " + dump(n.right) + ")" + q
	case nObsOr:
		if n.right == nil {
			return "(" + dump(n.left) + ")" + q
		}
		return "(" + dump(n.left) + " OR " + dump(n.right) + ")" + q
	case nObsAnd:
		return "(" + dump(n.left) + " AND " + dump(n.right) + ")" + q
	case nObservation:
		return "[" + dump(n.child) + "]" + q
	case nCmpOr:
		return "(" + dump(n.left) + " or " + dump(n.right) + ")"
	case nCmpAnd:
		return "(" + dump(n.left) + " and " + dump(n.right) + ")"
	case nExists:
		return "EXISTS " + n.path.String()
	case nTest:
		not := ""
		if n.not {
			not = "NOT "
		}
		var lits []string
		for _, l := range n.lits {
			lits = append(lits, l.text)
		}
		return n.path.String() + " " + not + n.op + " " + strings.Join(lits, "|")
	}
	return "?"
}

func TestParsePattern(t *testing.T) {
	tests := []struct {
		in, want string
		warn     bool
	}{
		{"[ipv4-addr:value = '198.51.100.1']", "[ipv4-addr:value = 198.51.100.1]", false},
		{"[a:x = '1' OR a:y = '2' AND a:z = '3']", "[(a:x = 1 or (a:y = 2 and a:z = 3))]", false},
		{"[(a:x = '1' OR a:y = '2') AND a:z = '3']", "[((a:x = 1 or a:y = 2) and a:z = 3)]", false},
		{"[a:x = '1'] OR [a:y = '2'] AND [a:z = '3']", "([a:x = 1] OR ([a:y = 2] AND [a:z = 3]))", false},
		{"[a:x = '1'] FOLLOWEDBY [a:y = '2'] OR [a:z = '3']", "([a:x = 1] FOLLOWEDBY ([a:y = 2] OR [a:z = 3]))", false},
		{"[a:x = 'it\\'s \\\\ ok']", "[a:x = it's \\ ok]", false},
		{"[email-message:to_refs[*].value = 'a@b.example']", "[email-message:to_refs[*].value = a@b.example]", false},
		{"[file:hashes.'SHA-256' = 'ab']", "[file:hashes.SHA-256 = ab]", false},
		{"[a:b[0] != 5]", "[a:b[0] != 5]", false},
		{"[a:b <> 5]", "[a:b != 5]", false},
		{"[a:b == 'x']", "[a:b = x]", false},
		{"[a:n >= -2.5 AND a:m < 7]", "[(a:n >= -2.5 and a:m < 7)]", false},
		{"[a:t = t'2025-01-01T00:00:00Z']", "[a:t = 2025-01-01T00:00:00Z]", false},
		{"[a:h = h'ff00' OR a:b = b'aGVsbG8=']", "[(a:h = ff00 or a:b = aGVsbG8=)]", false},
		{"[a:flag = true]", "[a:flag = true]", false},
		{"[a:x NOT IN ('1', '2')]", "[a:x NOT IN 1|2]", false},
		{"[a:x not like 'a%']", "[a:x NOT LIKE a%]", false},
		{"[a:x MATCHES '^a.*$']", "[a:x MATCHES ^a.*$]", false},
		{"[ipv4-addr:value ISSUBSET '198.51.100.0/24']", "[ipv4-addr:value ISSUBSET 198.51.100.0/24]", false},
		{"[EXISTS a:x]", "[EXISTS a:x]", false},
		{"[a:x = '1'] WITHIN 300 SECONDS", "[a:x = 1] {WITHIN 300 SECONDS}", false},
		{"([a:x = '1'] AND [a:y = '2']) REPEATS 5 TIMES WITHIN 1.5 SECONDS", "(([a:x = 1] AND [a:y = 2])) {REPEATS 5 TIMES; WITHIN 1.5 SECONDS}", false},
		{"[a:x = '1'] START t'2025-01-01T00:00:00Z' STOP t'2025-02-01T00:00:00Z'", "[a:x = 1] {START 2025-01-01T00:00:00Z STOP 2025-02-01T00:00:00Z}", false},
		{"[a:x = '1'] START '2025-01-01T00:00:00Z' STOP '2025-02-01T00:00:00Z'", "[a:x = 1] {START 2025-01-01T00:00:00Z STOP 2025-02-01T00:00:00Z}", true},
		{"[ a:x = '1' ]", "[a:x = 1]", false},
		// Numbers are read by the STIX lexer the playbook conditions share.
		{"[a:n > 1.5e3 AND a:m = +4]", "[(a:n > 1.5e3 and a:m = +4)]", false},
	}
	for _, tt := range tests {
		n, warns, err := parsePattern(tt.in)
		if err != nil {
			t.Errorf("parsePattern(%q): %v", tt.in, err)
			continue
		}
		if got := dump(n); got != tt.want {
			t.Errorf("parsePattern(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if (len(warns) > 0) != tt.warn {
			t.Errorf("parsePattern(%q) warnings %v, want warning %v", tt.in, warns, tt.warn)
		}
	}
}

func TestParsePatternErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "expected '[' or '('"},
		{"[a:x = '1'", "expected ']'"},
		{"[a:x = '1]", "unterminated string"},
		{"[a:x = 'a\\n']", "invalid escape"},
		{"[a:x ~ '1']", "unexpected character"},
		{"[a:x LIKE 5]", "LIKE needs a string literal"},
		{"[a:x > true]", "expected a literal"},
		{"[a = '1']", "expected ':'"},
		{"[a:x = '1'] WITHIN -5 SECONDS", "positive number"},
		{"[a:x = '1'] REPEATS 2", "expected TIMES"},
		{"[a:x = '1'] START t'2025-01-01T00:00:00Z'", "expected STOP"},
		{"[a:x = t'yesterday']", "bad timestamp literal"},
		{"[a:x = h'abc']", "bad hex literal"},
		{"[a:x = b'***']", "bad binary"},
		{"[a:x = 1.]", "digits expected after '.'"},
		{"[a:x = '1'] [a:y = '2']", "unexpected \"[\""},
		{"[a:x IN ('1' '2')]", "expected ',' or ')'"},
		{strings.Repeat("(", 200) + "[a:x = '1']" + strings.Repeat(")", 200), "nested deeper"},
		{"[a:x = '1'] FOLLOWEDBY", "expected '[' or '('"},
	}
	for _, tt := range tests {
		_, _, err := parsePattern(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parsePattern(%q) error = %v, want %q", clip(tt.in), err, tt.want)
		}
	}
}

func TestTier1(t *testing.T) {
	tests := []struct {
		in     string
		want   []string // kind=value
		reason string   // substring of the reason when not tier 1
	}{
		{"[ipv4-addr:value = '198.51.100.1']", []string{"ipv4=198.51.100.1"}, ""},
		{"[domain-name:value = 'a.example' OR url:value = 'http://a.example/']", []string{"domain=a.example", "url=http://a.example/"}, ""},
		{"[ipv4-addr:value = '198.51.100.1'] OR [ipv6-addr:value = '2001:db8::1']", []string{"ipv4=198.51.100.1", "ipv6=2001:db8::1"}, ""},
		{"[file:hashes.MD5 = 'x' OR file:hashes.'SHA-1' = 'y' OR file:hashes.'SHA-256' = 'z' OR file:hashes.'SHA-512' = 'w']", []string{"md5=x", "sha1=y", "sha256=z", "sha512=w"}, ""},
		{"[ipv4-addr:value ISSUBSET '198.51.100.0/24']", []string{"ipv4=198.51.100.0/24"}, ""},
		{"[domain-name:value IN ('a.example', 'b.example')]", []string{"domain=a.example", "domain=b.example"}, ""},
		{"[email-addr:value = 'a@b.example']", []string{"email=a@b.example"}, ""},
		{"[autonomous-system:number = 64500]", []string{"asn=64500"}, ""},
		{"[file:name = 'evil.exe']", []string{"filename=evil.exe"}, ""},
		{"[windows-registry-key:key = 'HKLM\\\\Run']", []string{`regkey=HKLM\Run`}, ""},
		{"[x509-certificate:hashes.'SHA-1' = 'ab']", []string{"sha1=ab"}, ""},
		{"[ipv4-addr:value = '1.1.1.1' AND ipv4-addr:value = '2.2.2.2']", nil, "tier 2"},
		{"[ipv4-addr:value != '1.1.1.1']", nil, "tier 2"},
		{"[ipv4-addr:value NOT = '1.1.1.1']", nil, "NOT"},
		{"[domain-name:value LIKE '%.example']", nil, "LIKE"},
		{"[file:size > 10]", nil, "no lookup index"},
		{"[network-traffic:dst_ref.value = '1.1.1.1']", nil, "no lookup index"},
		{"[domain-name:value = 'a'] AND [domain-name:value = 'b']", nil, "tier 3"},
		{"[domain-name:value = 'a'] FOLLOWEDBY [domain-name:value = 'b']", nil, "tier 3"},
		{"[domain-name:value = 'a'] WITHIN 5 SECONDS", nil, "tier 3"},
		{"[EXISTS domain-name:value]", nil, "EXISTS"},
		{"[domain-name:value = 5]", nil, "non-string"},
	}
	for _, tt := range tests {
		n, _, err := parsePattern(tt.in)
		if err != nil {
			t.Fatalf("parsePattern(%q): %v", tt.in, err)
		}
		got, reason := tier1(n)
		if tt.reason != "" {
			if !strings.Contains(reason, tt.reason) {
				t.Errorf("tier1(%q) reason = %q, want %q", tt.in, reason, tt.reason)
			}
			continue
		}
		var gs []string
		for _, l := range got {
			gs = append(gs, string(l.kind)+"="+l.value)
		}
		if reason != "" || strings.Join(gs, ",") != strings.Join(tt.want, ",") {
			t.Errorf("tier1(%q) = %v (%s), want %v", tt.in, gs, reason, tt.want)
		}
	}
}
