package console

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/auth"
)

// opsRoutes lists the routes of agents, decisions, events, metrics,
// silences and assets. Each has the least role of its REST twin
// (api/agents.go, api/decisions.go, api/alarm.go, api/routes.go).
func (c *Console) opsRoutes() []route {
	var rs []route
	if c.d.Fleet != nil {
		rs = append(rs,
			route{"GET", "/agents", auth.Viewer, c.opsAgents},
			route{"POST", "/agents/tokens", auth.Admin, c.opsCreateToken},
			route{"POST", "/agents/{id}/revoke", auth.Admin, c.opsRevokeAgent},
		)
	}
	if c.d.Decisions != nil {
		rs = append(rs,
			route{"GET", "/decisions", auth.Viewer, c.opsDecisions},
			route{"POST", "/decisions/{id}/revert", auth.Responder, c.opsRevertDecision},
		)
	}
	if c.d.Events != nil {
		rs = append(rs, route{"GET", "/events", auth.Viewer, c.opsEvents})
	}
	if c.d.Alarm != nil {
		rs = append(rs,
			route{"GET", "/insights", auth.Viewer, c.opsInsights},
			route{"GET", "/silences", auth.Viewer, c.opsSilences},
			route{"POST", "/silences", auth.Analyst, c.opsCreateSilence},
			route{"POST", "/silences/{id}/expire", auth.Analyst, c.opsExpireSilence},
			route{"GET", "/assets-inventory", auth.Viewer, c.opsAssets},
			route{"POST", "/assets-inventory", auth.Admin, c.opsImportAssets},
		)
	}
	return rs
}

func init() {
	funcs["opsDur"] = opsSeconds
	funcs["opsPct"] = func(part, whole int) string {
		if whole == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f%%", 100*float64(part)/float64(whole))
	}
}

// opsSeconds writes a duration in seconds as people read it: "45s",
// "12m", "3h05m", "2d".
func opsSeconds(s float64) string {
	if math.IsNaN(s) || s < 0 {
		return "-"
	}
	return humanDuration(time.Duration(s * float64(time.Second)))
}

// opsPageSize is the rows a list shows at once.
const opsPageSize = 50

// opsPager links the pages of an offset-paged list whose filter lives in the
// URL.
type opsPager struct {
	Total, First, Last int // First and Last are 1-based rows shown
	Prev, Next         string
}

// opsPageOf reads ?page= (0-based, at least 0).
func opsPageOf(r *http.Request) int {
	p, _ := strconv.Atoi(r.URL.Query().Get("page"))
	return max(p, 0)
}

// opsPages builds the links of page p of total rows, shown rows long, for
// the list at path with query q (page itself is set here).
func opsPages(path string, q url.Values, p, shown, total int) opsPager {
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "page" && len(vs) > 0 && vs[0] != "" {
				v.Set(k, vs[0])
			}
		}
		if n > 0 {
			v.Set("page", strconv.Itoa(n))
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	pg := opsPager{Total: total, First: p*opsPageSize + 1, Last: p*opsPageSize + shown}
	if shown == 0 {
		pg.First = 0
	}
	if pg.Last < total {
		pg.Next = link(p + 1)
	}
	if p > 0 {
		pg.Prev = link(p - 1)
	}
	return pg
}

// opsWhen reads a time a person typed: RFC 3339, or a span back from now
// like "15m", "1h" or "7d".
func opsWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := opsSpan(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-11-26T10:00:00Z) nor a span back from now (15m, 1h, 7d)", s)
}

// opsSpan is time.ParseDuration with days ("7d", "1d12h").
func opsSpan(s string) (time.Duration, error) {
	in := s
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		// Ten years is further back than any store keeps, and bounds
		// the multiplication.
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("%q: want a duration like 30m, 2h or 7d", in)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			if days == 0 {
				return 0, fmt.Errorf("%q: want a positive duration like 30m, 2h or 7d", in)
			}
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d+days <= 0 {
		return 0, fmt.Errorf("%q: want a positive duration like 30m, 2h or 7d", in)
	}
	return d + days, nil
}
