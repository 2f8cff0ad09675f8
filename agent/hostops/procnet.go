package hostops

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Conn is one socket from /proc/net/{tcp,tcp6,udp,udp6}.
type Conn struct {
	Proto  string `json:"proto"` // tcp, tcp6, udp, udp6
	Local  string `json:"local"` // addr:port
	Remote string `json:"remote"`
	State  string `json:"state"`
	UID    int    `json:"uid"`
	Inode  uint64 `json:"inode"`
	PID    int    `json:"pid,omitempty"` // 0 when no process holding it was found
	Comm   string `json:"comm,omitempty"`
}

// tcpStates are the kernel's TCP states (include/net/tcp_states.h).
var tcpStates = map[uint64]string{
	0x01: "ESTABLISHED", 0x02: "SYN_SENT", 0x03: "SYN_RECV", 0x04: "FIN_WAIT1",
	0x05: "FIN_WAIT2", 0x06: "TIME_WAIT", 0x07: "CLOSE", 0x08: "CLOSE_WAIT",
	0x09: "LAST_ACK", 0x0A: "LISTEN", 0x0B: "CLOSING", 0x0C: "NEW_SYN_RECV",
}

const maxProcNetLines = 1 << 20

// parseProcNet parses one /proc/net table. Malformed lines are counted,
// not fatal: a partial table is still evidence.
func parseProcNet(r io.Reader, proto string) (conns []Conn, bad int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	first := true
	for sc.Scan() {
		if first { // header
			first = false
			continue
		}
		if len(conns)+bad >= maxProcNetLines {
			return conns, bad, fmt.Errorf("more than %d lines", maxProcNetLines)
		}
		c, perr := parseProcNetLine(sc.Text(), proto)
		if perr != nil {
			bad++
			continue
		}
		conns = append(conns, c)
	}
	return conns, bad, sc.Err()
}

// parseProcNetLine parses
//
//	sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
//	0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 12345 ...
func parseProcNetLine(line, proto string) (Conn, error) {
	f := strings.Fields(line)
	if len(f) < 10 || !strings.HasSuffix(f[0], ":") {
		return Conn{}, fmt.Errorf("too few fields")
	}
	local, err := parseHexEndpoint(f[1])
	if err != nil {
		return Conn{}, fmt.Errorf("local: %v", err)
	}
	remote, err := parseHexEndpoint(f[2])
	if err != nil {
		return Conn{}, fmt.Errorf("remote: %v", err)
	}
	st, err := strconv.ParseUint(f[3], 16, 8)
	if err != nil {
		return Conn{}, fmt.Errorf("state: %v", err)
	}
	uid, err := strconv.Atoi(f[7])
	if err != nil || uid < 0 {
		return Conn{}, fmt.Errorf("uid %q", f[7])
	}
	inode, err := strconv.ParseUint(f[9], 10, 64)
	if err != nil {
		return Conn{}, fmt.Errorf("inode: %v", err)
	}
	c := Conn{Proto: proto, Local: local.String(), Remote: remote.String(), UID: uid, Inode: inode}
	if strings.HasPrefix(proto, "tcp") {
		c.State = tcpStates[st]
	} else if st == 0x07 {
		c.State = "UNCONN"
	} else if st == 0x01 {
		c.State = "ESTABLISHED"
	}
	if c.State == "" {
		c.State = fmt.Sprintf("0x%02X", st)
	}
	return c, nil
}

// parseHexEndpoint decodes "0100007F:0277". The address is the kernel's
// in-memory bytes printed as 32-bit words in host order (little-endian on
// the platforms Riposte ships for); the port is plain hex.
func parseHexEndpoint(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok || len(p) != 4 {
		return netip.AddrPort{}, fmt.Errorf("%q: not addr:port", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: port", s)
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("%q: address", s)
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}
