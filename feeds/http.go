package feeds

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/decision"
)

// Service answers firewalls' polls.
type Service struct {
	Store     *Store
	Decisions *decision.Store
	Log       *slog.Logger
	// Max bounds a feed's entries (0: MaxEntries).
	Max int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// token finds the consumer's token where firewalls can put one: a bearer
// header, HTTP basic authentication (PAN-OS EDLs, FortiGate threat feeds
// and Check Point's ioc_feeds take a user name and password: the token is
// the password, or the user name when the password is empty), or the
// token query parameter for those that only take a URL.
func token(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToLower(scheme) {
		case "bearer":
			return rest
		case "basic":
			raw, err := base64.StdEncoding.DecodeString(rest)
			if err != nil {
				return ""
			}
			user, pass, _ := strings.Cut(string(raw), ":")
			if pass == "" {
				return user
			}
			return pass
		}
		return ""
	}
	return r.URL.Query().Get("token")
}

func remote(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func plainError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// Serve is GET (and HEAD) /feeds/{format}: the deny list in that format,
// 304 Not Modified when If-None-Match names the current ETag (or
// If-Modified-Since is not older than the last change). The serial is in
// X-Riposte-Serial on every answer.
func (s *Service) Serve(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("format")
	f, ok := Formats[name]
	if !ok {
		plainError(w, http.StatusNotFound, "no feed format "+strconv.Quote(name)+": use panos, fortigate, checkpoint or json")
		return
	}
	tok := token(r)
	if tok == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="riposte feeds", charset="UTF-8"`)
		plainError(w, http.StatusUnauthorized, "send the feed token (riposte feed add NAME makes one): as the basic-auth password, a bearer token or ?token=")
		return
	}
	c, err := s.Store.Authenticate(r.Context(), tok)
	if err != nil {
		if errors.Is(err, ErrUnknownToken) {
			w.Header().Set("WWW-Authenticate", `Basic realm="riposte feeds", charset="UTF-8"`)
			plainError(w, http.StatusUnauthorized, "the feed token is unknown or its feed was deleted")
			return
		}
		plainError(w, http.StatusInternalServerError, "store error")
		s.logError("feed store", err)
		return
	}
	comments := false
	if v := r.URL.Query().Get("comments"); v != "" {
		if comments, err = strconv.ParseBool(v); err != nil {
			plainError(w, http.StatusBadRequest, "comments="+strconv.Quote(v)+" is not true or false")
			return
		}
	}
	now := s.now()
	ds, err := s.Decisions.List(r.Context(), false, now)
	if err != nil {
		plainError(w, http.StatusInternalServerError, "store error")
		s.logError("feed decisions", err)
		return
	}
	max := s.Max
	if max <= 0 {
		max = MaxEntries
	}
	entries, dropped := Entries(ds, now, max)
	digest := Digest(entries)
	serial, changed, err := s.Store.Poll(r.Context(), c, digest, remote(r), r.UserAgent(), name, now)
	if err != nil {
		plainError(w, http.StatusInternalServerError, "store error")
		s.logError("feed poll", err)
		return
	}
	etag := `"` + strconv.FormatInt(serial, 10) + "-" + digest[:12] + "-" + name
	if comments {
		etag += "-c"
	}
	etag += `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Last-Modified", changed.Format(http.TimeFormat))
	h.Set("X-Riposte-Serial", strconv.FormatInt(serial, 10))
	// Every poll asks again; nothing between Riposte and the firewall
	// keeps a copy of who is blocked.
	h.Set("Cache-Control", "private, no-cache")
	if dropped > 0 {
		h.Set("X-Riposte-Truncated", strconv.Itoa(dropped))
		if s.Log != nil {
			s.Log.Warn("feed truncated: more addresses blocked than a feed serves", "feed", c.Name, "served", len(entries), "left_out", dropped)
		}
	}
	if notModified(r, etag, changed) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var b bytes.Buffer
	f.write(&b, Feed{Serial: serial, ChangedAt: changed, Truncated: dropped, Entries: entries}, comments)
	h.Set("Content-Type", f.ContentType)
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
}

func (s *Service) logError(what string, err error) {
	if s.Log != nil {
		s.Log.Error(what, "err", err)
	}
}

// notModified applies RFC 9110's rules: If-None-Match wins when present;
// otherwise If-Modified-Since, to the second.
func notModified(r *http.Request, etag string, changed time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == etag || t == "*" {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !changed.Truncate(time.Second).After(t)
	}
	return false
}
