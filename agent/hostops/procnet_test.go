package hostops

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseProcNet(t *testing.T) {
	cases := []struct {
		file, proto string
		want        []Conn
		bad         int
	}{
		{"testdata/proc_net_tcp", "tcp", []Conn{
			{Proto: "tcp", Local: "127.0.0.1:631", Remote: "0.0.0.0:0", State: "LISTEN", UID: 0, Inode: 12345},
			{Proto: "tcp", Local: "10.0.2.15:22", Remote: "203.0.113.7:51443", State: "ESTABLISHED", UID: 1000, Inode: 23456},
		}, 1},
		{"testdata/proc_net_tcp6", "tcp6", []Conn{
			{Proto: "tcp6", Local: "[::1]:22", Remote: "[::]:0", State: "LISTEN", UID: 0, Inode: 34567},
			{Proto: "tcp6", Local: "127.0.0.1:8080", Remote: "127.0.0.1:54321", State: "TIME_WAIT", UID: 0, Inode: 0},
			{Proto: "tcp6", Local: "[2001:db8::1]:443", Remote: "[::]:0", State: "LISTEN", UID: 33, Inode: 45678},
		}, 0},
	}
	for _, tc := range cases {
		f, err := os.Open(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		got, bad, err := parseProcNet(f, tc.proto)
		f.Close()
		if err != nil || bad != tc.bad || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: bad=%d err=%v\n got %+v\nwant %+v", tc.file, bad, err, got, tc.want)
		}
	}
	udp := "  sl  local_address rem_address   st\n  891: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 41916 2 0 0\n"
	got, _, _ := parseProcNet(strings.NewReader(udp), "udp")
	if len(got) != 1 || got[0].State != "UNCONN" || got[0].Local != "127.0.0.1:53" {
		t.Errorf("udp %+v", got)
	}
}

func TestParseHexEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"0100007F:0050", "127.0.0.1:80", true},
		{"00000000:0000", "0.0.0.0:0", true},
		{"00000000000000000000000001000000:FFFF", "[::1]:65535", true},
		{"0100007F", "", false},
		{"0100007F:50", "", false},
		{"0100007G:0050", "", false},
		{"01007F:0050", "", false},
		{"0100007F:GGGG", "", false},
		{":", "", false},
	} {
		got, err := parseHexEndpoint(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got.String() != tc.want) {
			t.Errorf("%q: %v %v", tc.in, got, err)
		}
	}
}

// formatHexEndpoint is the kernel's encoding, the inverse of parseHexEndpoint.
func formatHexEndpoint(ap netip.AddrPort) string {
	raw := ap.Addr().AsSlice()
	for i := 0; i < len(raw); i += 4 {
		binary.LittleEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	return fmt.Sprintf("%s:%04X", strings.ToUpper(hex.EncodeToString(raw)), ap.Port())
}

// FuzzParseProcNetLine: never panics; whatever parses re-encodes to an
// equal line.
func FuzzParseProcNetLine(f *testing.F) {
	for _, s := range []string{
		"   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0 100 0 0 10 0",
		"   1: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 34567 1",
		"   2: x",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := parseProcNetLine(line, "tcp")
		if err != nil {
			return
		}
		fields := strings.Fields(line)
		l, _ := parseHexEndpoint(fields[1])
		line2 := fmt.Sprintf("0: %s %s %s 0:0 0:0 0 %d 0 %d", formatHexEndpoint(l), fields[2], fields[3], c.UID, c.Inode)
		c2, err := parseProcNetLine(line2, "tcp")
		if err != nil || c2.Local != c.Local || c2.Remote != c.Remote || c2.State != c.State || c2.UID != c.UID || c2.Inode != c.Inode {
			t.Fatalf("re-encoded %q -> %+v %v, want %+v", line2, c2, err, c)
		}
	})
}
