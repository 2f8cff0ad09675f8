package intel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/internal/retryafter"
)

// TAXIIMediaType is the TAXII 2.1 media type sent in Accept.
const TAXIIMediaType = "application/taxii+json;version=2.1"

// TAXII errors callers can test with errors.Is.
var (
	// ErrTAXIIAuth is a 401/403: a configuration problem to show the
	// operator, not something to retry.
	ErrTAXIIAuth = errors.New("taxii: authentication or authorization failed")
	// ErrTAXIINotAcceptable is a 406: the server cannot answer in TAXII 2.1.
	ErrTAXIINotAcceptable = errors.New("taxii: server cannot serve " + TAXIIMediaType)
)

// TAXIIClient polls one TAXII 2.1 collection (spec §4). The zero values of
// the optional fields are sensible. Configured URLs should pass the same
// SSRF guard as HTTP actions: give an HTTPClient whose dialer enforces it.
type TAXIIClient struct {
	// BaseURL is the server root ("https://taxii.example.org").
	BaseURL string
	// APIRoot is the API root path under BaseURL ("api1" or "/api1/"), or
	// an absolute URL as discovery lists it.
	APIRoot string
	// Collection is the collection id.
	Collection string
	// User and Password authenticate with HTTP Basic; Token with a bearer
	// token (Token wins when both are set).
	User, Password string
	Token          string
	// HTTPClient defaults to a client with a 60 s timeout.
	HTTPClient *http.Client

	// Feed names the indicators' provenance (default: the collection id).
	Feed string
	// Options are the import settings (Feed is taken from the field above).
	Options Options
	// PageSize is the limit parameter (default 1000).
	PageSize int
	// MaxObjects caps objects per Poll (default 100000); a poll that hits
	// it returns what it read and the watermark reached.
	MaxObjects int
	// Types filters with match[type] (default: indicator, marking-definition,
	// relationship and the SDOs relationships name). Set to []string{} to
	// ask for everything.
	Types []string
	// Overlap is subtracted from addedAfter so objects committed while the
	// last poll ran are read again (duplicates are harmless).
	Overlap time.Duration
	// MaxRetries bounds 429/503 retries per request (default 3); MaxWait
	// bounds one Retry-After wait (default 2 minutes).
	MaxRetries int
	MaxWait    time.Duration
	// MaxResponseBytes bounds one response body (default MaxSTIXBytes).
	MaxResponseBytes int64
	// OnProblem receives import problems (default: dropped; they are also
	// counted in LastResult).
	OnProblem func(Problem)

	mu       sync.Mutex
	markings map[string]TLP
	last     Result
}

var defaultTAXIITypes = []string{"indicator", "marking-definition", "relationship", "malware",
	"threat-actor", "intrusion-set", "campaign", "tool", "attack-pattern", "infrastructure"}

// LastResult returns the problems and counters of the last Poll (its
// Indicators are not kept).
func (c *TAXIIClient) LastResult() Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

func (c *TAXIIClient) objectsURL() (string, error) {
	root := c.APIRoot
	if !strings.Contains(root, "://") {
		base := strings.TrimRight(c.BaseURL, "/")
		if base == "" {
			return "", errors.New("taxii: BaseURL is empty")
		}
		root = base + "/" + strings.Trim(root, "/")
	}
	u, err := url.Parse(strings.TrimRight(root, "/") + "/")
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("taxii: bad API root URL %q", root)
	}
	if c.Collection == "" {
		return "", errors.New("taxii: Collection is empty")
	}
	return u.String() + "collections/" + url.PathEscape(c.Collection) + "/objects/", nil
}

type taxiiEnvelope struct {
	More    bool              `json:"more"`
	Next    string            `json:"next"`
	Objects []json.RawMessage `json:"objects"`
}

// Poll reads the objects added to the collection after addedAfter (zero:
// everything), following pagination, and returns their indicators and the
// new watermark: the last X-TAXII-Date-Added-Last seen, or addedAfter when
// nothing new arrived. Persist the watermark only after the indicators are
// stored. On error the indicators read so far are not returned.
func (c *TAXIIClient) Poll(ctx context.Context, addedAfter time.Time) ([]Indicator, time.Time, error) {
	endpoint, err := c.objectsURL()
	if err != nil {
		return nil, addedAfter, err
	}
	o := c.Options
	if c.Feed != "" {
		o.Feed = c.Feed
	} else if o.Feed == "" {
		o.Feed = c.Collection
	}
	// Marking definitions arrive once and are referenced by later polls.
	c.mu.Lock()
	marks := maps.Clone(c.markings)
	c.mu.Unlock()

	var res Result
	st := newSTIXState(&o, &res, marks)
	limit := c.PageSize
	if limit <= 0 {
		limit = 1000
	}
	maxObjects := c.MaxObjects
	if maxObjects <= 0 {
		maxObjects = 100000
	}
	types := c.Types
	if types == nil {
		types = defaultTAXIITypes
	}
	after := addedAfter
	if !after.IsZero() && c.Overlap > 0 {
		after = after.Add(-c.Overlap)
	}
	watermark := addedAfter
	next := ""
	total := 0
	for page := 1; ; page++ {
		q := url.Values{}
		q.Set("limit", strconv.Itoa(limit))
		if !after.IsZero() {
			q.Set("added_after", after.UTC().Format(time.RFC3339Nano))
		}
		if len(types) > 0 {
			q.Set("match[type]", strings.Join(types, ","))
		}
		if next != "" {
			q.Set("next", next)
		}
		env, last, err := c.get(ctx, endpoint+"?"+q.Encode())
		if err != nil {
			return nil, addedAfter, fmt.Errorf("taxii: page %d: %w", page, err)
		}
		for i, raw := range env.Objects {
			st.add(raw, fmt.Sprintf("page %d objects[%d]", page, i))
		}
		total += len(env.Objects)
		if last.After(watermark) {
			watermark = last
		}
		if !env.More || total >= maxObjects {
			if env.More {
				res.problem(Problem{Feed: o.Feed, Severity: SeverityWarning, Where: fmt.Sprintf("page %d", page),
					Msg: fmt.Sprintf("stopped after %d objects (MaxObjects); the rest comes with the next poll", total)})
			}
			break
		}
		if env.Next != "" {
			next = env.Next
			continue
		}
		// more without next: continue from X-TAXII-Date-Added-Last.
		if last.IsZero() || !last.After(after) {
			return nil, addedAfter, fmt.Errorf("taxii: page %d: more is true without next, and X-TAXII-Date-Added-Last does not advance", page)
		}
		after, next = last, ""
	}
	st.finish()
	if c.OnProblem != nil {
		for _, p := range res.Problems {
			c.OnProblem(p)
		}
	}
	inds := res.Indicators
	res.Indicators = nil
	c.mu.Lock()
	c.last = res
	c.markings = st.markings
	c.mu.Unlock()
	return inds, watermark, nil
}

// get fetches one page, retrying 429/503 as Retry-After says.
func (c *TAXIIClient) get(ctx context.Context, u string) (taxiiEnvelope, time.Time, error) {
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	retries := c.MaxRetries
	if retries <= 0 {
		retries = 3
	}
	maxWait := c.MaxWait
	if maxWait <= 0 {
		maxWait = 2 * time.Minute
	}
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = MaxSTIXBytes
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return taxiiEnvelope{}, time.Time{}, err
		}
		req.Header.Set("Accept", TAXIIMediaType)
		switch {
		case c.Token != "":
			req.Header.Set("Authorization", "Bearer "+c.Token)
		case c.User != "" || c.Password != "":
			req.SetBasicAuth(c.User, c.Password)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return taxiiEnvelope{}, time.Time{}, err
		}
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusUnauthorized, http.StatusForbidden:
			drain(resp)
			return taxiiEnvelope{}, time.Time{}, fmt.Errorf("%w (HTTP %d)", ErrTAXIIAuth, resp.StatusCode)
		case http.StatusNotAcceptable:
			drain(resp)
			return taxiiEnvelope{}, time.Time{}, ErrTAXIINotAcceptable
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			wait, given := retryafter.Parse(resp.Header.Get("Retry-After"), time.Now())
			drain(resp)
			if attempt >= retries {
				return taxiiEnvelope{}, time.Time{}, fmt.Errorf("taxii: HTTP %d after %d retries", resp.StatusCode, retries)
			}
			if !given {
				wait = time.Duration(1<<attempt) * time.Second
			}
			if wait > maxWait {
				return taxiiEnvelope{}, time.Time{}, fmt.Errorf("taxii: HTTP %d with Retry-After %s beyond %s", resp.StatusCode, wait, maxWait)
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return taxiiEnvelope{}, time.Time{}, ctx.Err()
			case <-t.C:
			}
			continue
		default:
			drain(resp)
			return taxiiEnvelope{}, time.Time{}, fmt.Errorf("taxii: HTTP %d", resp.StatusCode)
		}
		ct := strings.ToLower(resp.Header.Get("Content-Type"))
		if ct != "" && !strings.Contains(ct, "taxii+json") && !strings.Contains(ct, "application/json") {
			drain(resp)
			return taxiiEnvelope{}, time.Time{}, fmt.Errorf("taxii: unexpected Content-Type %q", ct)
		}
		data, err := readLimited(resp.Body, limit)
		resp.Body.Close()
		if err != nil {
			return taxiiEnvelope{}, time.Time{}, err
		}
		var env taxiiEnvelope
		if len(strings.TrimSpace(string(data))) > 0 {
			if err := json.Unmarshal(data, &env); err != nil {
				return taxiiEnvelope{}, time.Time{}, fmt.Errorf("taxii: bad envelope: %w", err)
			}
		}
		var last time.Time
		if h := resp.Header.Get("X-TAXII-Date-Added-Last"); h != "" {
			if t, err := parseStamp(h); err == nil {
				last = t
			}
		}
		return env, last, nil
	}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
