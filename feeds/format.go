package feeds

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
)

// Format is one way of writing a feed.
type Format struct {
	// Name is the last part of the path: /feeds/{name}.
	Name        string
	ContentType string
	// Doc says which product reads it, for the API reference.
	Doc string
	// write renders the entries; comments asks for each entry's decision
	// and reason where the format has room for them.
	write func(b *bytes.Buffer, f Feed, comments bool)
}

// Feed is what one poll is answered with.
type Feed struct {
	// Serial is the change counter: it grows by one each time the set of
	// blocked values (or the decisions behind them) changes.
	Serial    int64     `json:"serial"`
	ChangedAt time.Time `json:"changed_at"`
	// Truncated counts entries left out over MaxEntries (newest kept).
	Truncated int     `json:"truncated,omitempty"`
	Entries   []Entry `json:"entries"`
}

// Formats are the feeds served, by name.
var Formats = map[string]Format{
	"panos": {Name: "panos", ContentType: "text/plain; charset=utf-8",
		Doc: "Palo Alto Networks External Dynamic List of type IP Address: one address or network per line; with comments=true each line carries ' #<decision> <reason>' after a space, as the EDL format allows.",
		write: func(b *bytes.Buffer, f Feed, comments bool) {
			for _, e := range f.Entries {
				b.WriteString(e.Value)
				if comments {
					fmt.Fprintf(b, " #%s %s", e.Decision, oneLine(e.Reason, 200))
				}
				b.WriteByte('\n')
			}
		}},
	"fortigate": {Name: "fortigate", ContentType: "text/plain; charset=utf-8",
		Doc: "FortiGate external threat feed (External Connectors, IP Address): one address or network per line, nothing else.",
		write: func(b *bytes.Buffer, f Feed, _ bool) {
			for _, e := range f.Entries {
				b.WriteString(e.Value)
				b.WriteByte('\n')
			}
		}},
	"checkpoint": {Name: "checkpoint", ContentType: "text/csv; charset=utf-8",
		Doc:   "Check Point custom intelligence feed, CSV in the Check Point format (# UNIQ-NAME,VALUE,TYPE,CONFIDENCE,SEVERITY,PRODUCT,COMMENT): IPv4 addresses as IP, networks as IP Range first-last, for Anti-Bot; IPv6 is left out (the format takes IPv4 only).",
		write: writeCheckPoint},
	"json": {Name: "json", ContentType: "application/json",
		Doc: "JSON: {serial, changed_at, truncated, entries: [{value, type, decision, reason, incident, start, expires}]}, times in RFC 3339.",
		write: func(b *bytes.Buffer, f Feed, _ bool) {
			if f.Entries == nil {
				f.Entries = []Entry{}
			}
			_ = json.NewEncoder(b).Encode(f)
		}},
}

// checkPointHeader is the header line of Check Point's own CSV format;
// lines starting with # are comments to the gateway, and every line has
// the same seven fields.
var checkPointHeader = []string{"# UNIQ-NAME", "VALUE", "TYPE", "CONFIDENCE", "SEVERITY", "PRODUCT", "COMMENT"}

func writeCheckPoint(b *bytes.Buffer, f Feed, _ bool) {
	w := csv.NewWriter(b)
	_ = w.Write(checkPointHeader)
	for _, e := range f.Entries {
		if !e.prefix.Addr().Is4() {
			continue
		}
		typ, value := "IP", e.Value
		if !e.prefix.IsSingleIP() {
			typ, value = "IP Range", e.prefix.Addr().String()+"-"+last(e.prefix).String()
		}
		// The name must be unique in the feed: the decision ID is.
		_ = w.Write([]string{"riposte-" + e.Decision, value, typ, "high", "high", "AB", oneLine(e.Reason, 200)})
	}
	w.Flush()
}

// last is the highest address of a network.
func last(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(a)*8; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	out, _ := netip.AddrFromSlice(a)
	return out
}
