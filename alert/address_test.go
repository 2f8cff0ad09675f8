package alert

import "testing"

func TestAddress(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"203.0.113.7", "203.0.113.7", true},
		{" 203.0.113.7 ", "203.0.113.7", true},
		{"2001:DB8::1", "2001:db8::1", true},
		{"::ffff:192.0.2.1", "192.0.2.1", true},
		{"fe80::1%eth0", "fe80::1", true},
		{"127.0.0.1", "127.0.0.1", true}, // a loopback source is evidence; decisions refuse to block it
		{"0.0.0.0/0", "", false},
		{"::/0", "", false},
		{"203.0.113.0/24", "", false},
		{"203.0.113.7/32", "", false},
		{"10.0.0.1-10.0.0.255", "", false},
		{"10.0.0.1,10.0.0.2", "", false},
		{"0.0.0.0", "", false},
		{"::", "", false},
		{"-", "", false},
		{"", "", false},
		{"web-01", "", false},
		{"203.0.113.7:4444", "", false},
		{"010.0.0.1", "", false},
	} {
		got, ok := Address(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Address(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
