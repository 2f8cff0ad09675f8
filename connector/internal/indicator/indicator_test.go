package indicator

import (
	"strings"
	"testing"
)

func TestIP(t *testing.T) {
	for _, tc := range []struct {
		in     string
		ok     bool
		public bool
	}{
		{"118.25.6.39", true, true}, {"8.8.8.8", true, true}, {"2001:4860:4860::8888", true, true},
		{"::ffff:8.8.8.8", true, true},
		{"10.1.2.3", true, false}, {"192.168.0.1", true, false}, {"127.0.0.1", true, false}, {"169.254.169.254", true, false},
		{"100.64.1.1", true, false}, {"203.0.113.9", true, false}, {"fe80::1", true, false}, {"fd00::1", true, false},
		{"0.0.0.0", true, false}, {"224.0.0.1", true, false}, {"2001:db8::1", true, false},
		{"fe80::1%eth0", false, false}, {"8.8.8.0/24", false, false}, {"8.8.8", false, false}, {"8.8.8.8&x=1", false, false}, {"", false, false},
	} {
		a, err := IP(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("IP(%q) err = %v", tc.in, err)
			continue
		}
		if err == nil && Public(a) != tc.public {
			t.Errorf("Public(%s) = %v", tc.in, !tc.public)
		}
	}
}

func TestDomain(t *testing.T) {
	good := map[string]string{"Example.COM.": "example.com", "xn--bcher-kva.example": "xn--bcher-kva.example", "a-b.co.uk": "a-b.co.uk"}
	for in, want := range good {
		if got, err := Domain(in); err != nil || got != want {
			t.Errorf("Domain(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "localhost", "-a.com", "a-.com", "a..com", "a.com/x", "a.com?x", "a b.com", "1.2.3.4", "ex%2fample.com",
		strings.Repeat("a", 64) + ".com", strings.Repeat("abcdefghi.", 26) + "com", "bücher.example"} {
		if got, err := Domain(in); err == nil {
			t.Errorf("Domain(%q) = %q, accepted", in, got)
		}
	}
}

func TestHash(t *testing.T) {
	for in, kind := range map[string]string{
		"44D88612FEA8A8F36DE82E1278ABB02F": "md5", "3395856ce81f2b7382dee72602f798b642f14140": "sha1",
		"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f": "sha256"} {
		if _, k, err := Hash(in); err != nil || k != kind {
			t.Errorf("Hash(%q) = %q, %v", in, k, err)
		}
	}
	for _, in := range []string{"", "xyz", "44d88612fea8a8f36de82e1278abb02", "44d88612fea8a8f36de82e1278abb02g", "../../files/x"} {
		if _, _, err := Hash(in); err == nil {
			t.Errorf("Hash(%q) accepted", in)
		}
	}
}

func FuzzDomain(f *testing.F) {
	f.Add("example.com")
	f.Add("a/b.com")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Domain(s)
		if err == nil && strings.ContainsAny(d, "/?#%@: \\") {
			t.Fatalf("%q accepted as %q", s, d)
		}
	})
}
