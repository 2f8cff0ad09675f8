package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// pages holds one template set per page: the layout, the shared partials
// and the page's own file, so pages can each define "content" and "title".
type pages struct {
	sets map[string]*template.Template
}

var funcs = template.FuncMap{
	"stamp": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "-"
			}
			return v.UTC().Format(time.RFC3339)
		case *time.Time:
			if v == nil || v.IsZero() {
				return "-"
			}
			return v.UTC().Format(time.RFC3339)
		}
		return "-"
	},
	"ago": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return ago(v)
		case *time.Time:
			if v != nil {
				return ago(*v)
			}
		}
		return "-"
	},
	"join":    strings.Join,
	"lower":   strings.ToLower,
	"prio":    prioClass,
	"add":     func(a, b int) int { return a + b },
	"dict":    dict,
	"seconds": func(d time.Duration) string { return humanDuration(d) },
}

func parsePages() (*pages, error) {
	p := &pages{sets: map[string]*template.Template{}}
	files, err := fs.Glob(templateFS, "templates/page_*.html")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(path.Base(f), "page_"), ".html")
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/part_*.html", f)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", f, err)
		}
		p.sets[name] = t
	}
	return p, nil
}

// view is what every page template receives.
type view struct {
	V       *viewer
	Title   string
	Nav     string // which menu entry is current
	Flash   string
	Error   string
	Version string
	// Live is the store's version when the page was drawn (see hub).
	Live string
	Page any
}

// CSRF is the token forms carry.
func (v view) CSRF() string {
	if v.V == nil {
		return ""
	}
	return v.V.Session.CSRF
}

// render writes a whole page, or only its "content" block for an htmx
// request that asks for a fragment (HX-Target names the main element).
// It renders into a buffer first so that a template error gives a clean 500
// rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, data view) {
	t, ok := c.pages.sets[page]
	if !ok {
		http.Error(w, "no page "+page, http.StatusInternalServerError)
		return
	}
	data.Version = c.d.Version
	data.Live = c.live.current()
	name := "layout.html"
	if r.Header.Get("HX-Request") != "" && r.Header.Get("HX-Target") == "main" {
		name = "content"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		c.d.Log.Error("console render", "page", page, "err", err)
		http.Error(w, "the page could not be drawn; the server log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fragment renders one named template of a page's set (an htmx partial).
func (c *Console) fragment(w http.ResponseWriter, page, name string, data any) {
	t, ok := c.pages.sets[page]
	if !ok {
		http.Error(w, "no page "+page, http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		c.d.Log.Error("console render", "page", page, "fragment", name, "err", err)
		http.Error(w, "the page could not be drawn; the server log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// fail shows an error page (or, to htmx, the message alone).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *viewer, status int, msg string) {
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("HX-Retarget", "#flash")
		w.Header().Set("HX-Reswap", "innerHTML")
		w.WriteHeader(status)
		template.HTMLEscape(w, []byte(msg))
		return
	}
	c.render(w, r, status, "error", view{V: v, Title: http.StatusText(status), Error: msg})
}

// back redirects after a successful form post (post/redirect/get), to the
// page the form came from when that is on this site.
func back(w http.ResponseWriter, r *http.Request, fallback string) {
	to := r.PostFormValue("back")
	if to == "" || localPath(to) != to {
		to = fallback
	}
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Location", to)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func prioClass(p string) string {
	switch p {
	case "P1", "P2", "P3", "P4":
		return "prio-" + strings.ToLower(p)
	}
	return "prio-unknown"
}

func dict(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok {
			m[k] = kv[i+1]
		}
	}
	return m
}

// ago is a time relative to now, as people read a queue: "4m ago".
func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t)
	if d < 0 {
		return "in " + humanDuration(-d)
	}
	return humanDuration(d) + " ago"
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
