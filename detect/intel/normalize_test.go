package intel

import (
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		kind     Kind
		in       string
		wantKind Kind
		want     string
		wantErr  bool
	}{
		{KindIPv4, " 198.51.100.7 ", KindIPv4, "198.51.100.7", false},
		{KindIPv4, "::ffff:198.51.100.7", KindIPv4, "198.51.100.7", false},
		{KindIPv6, "2001:DB8::1", KindIPv6, "2001:db8::1", false},
		{KindIPv6, "fe80::1%eth0", KindIPv6, "fe80::1", false},
		{KindIPv6, "[2001:db8::2]", KindIPv6, "2001:db8::2", false},
		{KindCIDR4, "198.51.100.77/24", KindCIDR4, "198.51.100.0/24", false},
		{KindIPv4, "198.51.100.7/32", KindIPv4, "198.51.100.7", false},
		{KindCIDR6, "2001:db8:abcd::/48", KindCIDR6, "2001:db8:abcd::/48", false},
		{KindCIDR6, "::ffff:198.51.100.0/120", KindCIDR4, "198.51.100.0/24", false},
		{KindIPv4, "300.1.1.1", "", "", true},
		{KindDomain, "Evil.Example.", KindDomain, "evil.example", false},
		{KindDomain, "münchen.example", KindDomain, "xn--mnchen-3ya.example", false},
		{KindDomain, "BÜCHER.example", KindDomain, "xn--bcher-kva.example", false},
		{KindDomain, "例え。テスト", KindDomain, "xn--r8jz45g.xn--zckzah", false},
		{KindDomain, "localhost", "", "", true},
		{KindDomain, "bad domain.example", "", "", true},
		{KindDomain, "a..b", "", "", true},
		{KindDomain, "198.51.100.1", "", "", true},
		{KindURL, "HTTP://Evil.Example:80/a%7eb/Path?Q=1#frag", KindURL, "http://evil.example/a~b/Path?Q=1", false},
		{KindURL, "https://evil.example:443", KindURL, "https://evil.example/", false},
		{KindURL, "https://evil.example:8443?x", KindURL, "https://evil.example:8443/?x", false},
		{KindURL, "http://evil.example/%2f%41%3a", KindURL, "http://evil.example/%2FA%3A", false},
		{KindURL, "evil.example/path", KindURL, "http://evil.example/path", false},
		{KindURL, "http://[2001:DB8::1]:8080/x", KindURL, "http://[2001:db8::1]:8080/x", false},
		{KindURL, "http://user:pw@Host.Example/", KindURL, "http://user:pw@host.example/", false},
		{KindURL, "http://bad host/", "", "", true},
		{KindURL, "http://example.com:99999/", "", "", true},
		{KindMD5, "D41D8CD98F00B204E9800998ECF8427E", KindMD5, "d41d8cd98f00b204e9800998ecf8427e", false},
		{KindMD5, "d41d8cd98f00b204e9800998ecf8427", "", "", true},
		{KindSHA1, "zz39a3ee5e6b4b0d3255bfef95601890afd80709", "", "", true},
		{KindEmail, "Bob <Bob.Smith@Example.ORG>", KindEmail, "bob.smith@example.org", false},
		{KindEmail, "mailto:x@y.example", KindEmail, "x@y.example", false},
		{KindEmail, "no-at.example", "", "", true},
		{KindRegKey, `HKEY_LOCAL_MACHINE\Software\Run\`, KindRegKey, `hklm\software\run`, false},
		{KindRegKey, `\REGISTRY\MACHINE\SOFTWARE\X`, KindRegKey, `hklm\software\x`, false},
		{KindFilename, `C:\Users\x\Invoice.PDF.exe`, KindFilename, "invoice.pdf.exe", false},
		{KindASN, "AS0064500", KindASN, "64500", false},
		{KindASN, "ASX", "", "", true},
		{KindJA3, "E7D705A3286E19EA42F587B344EE6865", KindJA3, "e7d705a3286e19ea42f587b344ee6865", false},
		{KindUserAgent, " Mozilla/5.0 EvilBot ", KindUserAgent, "mozilla/5.0 evilbot", false},
		{"bogus", "x", "", "", true},
	}
	for _, tt := range tests {
		k, v, err := Normalize(tt.kind, tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("Normalize(%s, %q) = %s %q, want error", tt.kind, tt.in, k, v)
			}
			continue
		}
		if err != nil || k != tt.wantKind || v != tt.want {
			t.Errorf("Normalize(%s, %q) = %s %q %v, want %s %q", tt.kind, tt.in, k, v, err, tt.wantKind, tt.want)
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		in   string
		kind Kind
		want string
	}{
		{"203.0.113.5", KindIPv4, "203.0.113.5"},
		{"203.0.113.0/24", KindCIDR4, "203.0.113.0/24"},
		{"2001:db8::/32", KindCIDR6, "2001:db8::/32"},
		{"https://x.example/a", KindURL, "https://x.example/a"},
		{"x.example/a.php", KindURL, "http://x.example/a.php"},
		{"d41d8cd98f00b204e9800998ecf8427e", KindMD5, "d41d8cd98f00b204e9800998ecf8427e"},
		{"da39a3ee5e6b4b0d3255bfef95601890afd80709", KindSHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", KindSHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"a@b.example", KindEmail, "a@b.example"},
		{"AS15169", KindASN, "15169"},
		{"Sub.Example.COM", KindDomain, "sub.example.com"},
	}
	for _, tt := range tests {
		k, v, err := Detect(tt.in)
		if err != nil || k != tt.kind || v != tt.want {
			t.Errorf("Detect(%q) = %s %q %v, want %s %q", tt.in, k, v, err, tt.kind, tt.want)
		}
	}
	for _, bad := range []string{"", "hello world", "x", "deadbeef"} {
		if k, v, err := Detect(bad); err == nil {
			t.Errorf("Detect(%q) = %s %q, want error", bad, k, v)
		}
	}
}

func TestRefang(t *testing.T) {
	for in, want := range map[string]string{
		"hxxp://evil[.]example/x":   "http://evil.example/x",
		"hXXps://evil(.)example":    "https://evil.example",
		"198[.]51[.]100[.]1":        "198.51.100.1",
		"bad[@]mail{.}example":      "bad@mail.example",
		"evil[dot]example":          "evil.example",
		"plain.example":             "plain.example",
		"hxxps[://]evil[.]example/": "https://evil.example/",
	} {
		if got := Refang(in); got != want {
			t.Errorf("Refang(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNonRoutable(t *testing.T) {
	for _, tt := range []struct {
		kind Kind
		v    string
		bad  bool
	}{
		{KindIPv4, "10.1.2.3", true},
		{KindIPv4, "127.0.0.1", true},
		{KindIPv4, "100.64.0.1", true},
		{KindIPv4, "203.0.113.9", false},
		{KindIPv6, "fd00::1", true},
		{KindIPv6, "2001:db8::1", false},
		{KindCIDR4, "10.0.0.0/8", true},
		{KindCIDR4, "0.0.0.0/1", true},
		{KindCIDR4, "198.51.100.0/24", false},
	} {
		if got := nonRoutable(tt.kind, tt.v) != ""; got != tt.bad {
			t.Errorf("nonRoutable(%s) = %v, want %v", tt.v, got, tt.bad)
		}
	}
}
