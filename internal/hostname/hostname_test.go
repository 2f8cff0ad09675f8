package hostname

import "testing"

func TestCheck(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Web-1.Example.COM.", "web-1.example.com"},
		{"_dmarc.example.com", "_dmarc.example.com"},
		{"__imc_address__", "__imc_address__"}, // placeholders of exported playbooks
		{"203.0.113.7", "203.0.113.7"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
	} {
		if got, err := Check(c.in); err != nil || got != c.want {
			t.Errorf("Check(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "root@host", "host:22", "-oProxyCommand=x", "a/b", "fe80::1%eth0", "host name", "a..b", "x-.example"} {
		if got, err := Check(bad); err == nil {
			t.Errorf("Check(%q) = %q, want an error", bad, got)
		}
	}
}
