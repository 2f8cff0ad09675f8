package browsertest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// A page that passes every check: language, title, landmark, alt text.
const cleanPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Clean</title><link rel="icon" href="data:,"></head>
<body><main><h1>Queue</h1><p>No open incidents.</p><img src="/pixel.png" alt="status: green"></main></body></html>`

// htmlPage wraps body in a page that is clean apart from body.
func htmlPage(body string) string {
	return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test</title><link rel="icon" href="data:,"></head><body><main><h1>Test</h1>` +
		body + `</main></body></html>`
}

// server serves each path's HTML, and /pixel.png as a 1x1 PNG.
func server(t *testing.T, pages map[string]string) *httptest.Server {
	t.Helper()
	var pixel bytes.Buffer
	if err := png.Encode(&pixel, image1x1()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pixel.png" {
			w.Header().Set("Content-Type", "image/png")
			w.Write(pixel.Bytes())
			return
		}
		html, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/csp/") {
			// As strict as the console's own policy can be.
			w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self' data:; style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, html)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Injected markup that runs script opens a dialog, which is recorded and
// dismissed so the page goes on (its title is set after the dialog).
func TestDialogs(t *testing.T) {
	srv := server(t, map[string]string{
		"/clean":   cleanPage,
		"/script":  htmlPage(`<p>Title: <script>alert(1)</script></p><script>document.title = "after"</script>`),
		"/onerror": htmlPage(`<p>"><img src="/missing" onerror="alert('img')"></p><script>document.title = "after"</script>`),
		"/confirm": htmlPage(`<script>document.title = confirm("delete?") ? "accepted" : "after"</script>`),
	})
	ctx := New(t)
	for _, c := range []struct {
		path string
		want []Dialog
	}{
		{"/clean", nil},
		{"/script", []Dialog{{Type: "alert", Message: "1", URL: srv.URL + "/script"}}},
		{"/onerror", []Dialog{{Type: "alert", Message: "img", URL: srv.URL + "/onerror"}}},
		{"/confirm", []Dialog{{Type: "confirm", Message: "delete?", URL: srv.URL + "/confirm"}}},
	} {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			before := len(Dialogs(ctx))
			Do(t, ctx, chromedp.Navigate(srv.URL+c.path))
			got := Dialogs(ctx)[before:]
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("dialogs %v, want %v", got, c.want)
			}
			if c.want == nil {
				return
			}
			title, err := chromedp.Run(ctx, chromedp.Title())
			if err != nil || title != "after" {
				t.Errorf("title %q (%v): the page did not go on after its dialog was dismissed", title, err)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	srv := server(t, map[string]string{
		"/clean":     cleanPage,
		"/console":   htmlPage(`<script>console.log("fine"); console.warn("meh"); console.error("boom", 42)</script>`),
		"/exception": htmlPage(`<script>throw new Error("kaboom")</script>`),
		"/rejection": htmlPage(`<script>Promise.reject(new TypeError("nope"))</script>`),
		"/missing":   htmlPage(`<img src="/missing.png" alt="gone">`),
	})
	ctx := New(t)
	for _, c := range []struct {
		path       string
		kind, text string // "" for none
	}{
		{"/clean", "", ""},
		{"/console", "console.error", "boom 42"},
		{"/exception", "exception", "Uncaught Error: kaboom"},
		{"/rejection", "exception", "Uncaught (in promise) TypeError: nope"},
		{"/missing", "log/network", "404"},
	} {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			before := len(Errors(ctx))
			Do(t, ctx, chromedp.Navigate(srv.URL+c.path))
			// An unhandled rejection is reported after the page's
			// script; a round trip lets it arrive.
			Do(t, ctx, chromedp.Evaluate[chromedp.Void](`0`))
			got := Errors(ctx)[before:]
			if c.kind == "" {
				if len(got) != 0 {
					t.Errorf("errors on a clean page: %v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Kind != c.kind || !strings.Contains(got[0].Text, c.text) {
				t.Errorf("errors %v, want one %s with %q", got, c.kind, c.text)
			}
		})
	}
}

func TestAxe(t *testing.T) {
	srv := server(t, map[string]string{
		"/clean":     cleanPage,
		"/csp/clean": cleanPage,
		"/noalt":     htmlPage(`<img src="/pixel.png">`),
	})
	ctx := New(t)

	// A strict Content-Security-Policy does not keep axe out, nor does
	// axe trip it (a violation would be a page error).
	for _, path := range []string{"/clean", "/csp/clean"} {
		Do(t, ctx, chromedp.Navigate(srv.URL+path))
		vs, err := Axe(ctx)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(vs) != 0 {
			t.Errorf("violations on a clean page %s:\n%s", path, describe(vs))
		}
		AssertAxe(t, ctx, "clean") // must pass
	}
	AssertNoErrors(t, ctx)

	Do(t, ctx, chromedp.Navigate(srv.URL+"/noalt"))
	vs, err := Axe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].ID != "image-alt" || vs[0].Impact != "critical" || vs[0].Help == "" ||
		len(vs[0].Nodes) != 1 || vs[0].Nodes[0].Target != "img" || !strings.Contains(vs[0].Nodes[0].HTML, `src="/pixel.png"`) {
		t.Fatalf("violations on an image without alt text:\n%s(%+v)", describe(vs), vs)
	}

	// AssertAxe fails, naming the page, the rule and the element.
	rec := &recordingTB{TB: t}
	AssertAxe(rec, ctx, "no-alt")
	msg := rec.errors()
	for _, want := range []string{"no-alt page", "image-alt [critical]", `at img: <img src="/pixel.png">`} {
		if !strings.Contains(msg, want) {
			t.Errorf("AssertAxe's failure lacks %q:\n%s", want, msg)
		}
	}
}

func TestScreenshot(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(ArtifactsEnv, dir)
	// Taller than the window: a full-page screenshot covers all of it.
	srv := server(t, map[string]string{"/tall": htmlPage(`<div style="height:3000px;background:#036">tall</div>`)})
	ctx := New(t)
	Do(t, ctx, chromedp.Navigate(srv.URL+"/tall"))

	p := Screenshot(t, ctx, "Test/tall page")
	if want := filepath.Join(dir, "screenshots", "Test_tall_page.png"); p != want {
		t.Errorf("written to %s, want %s", p, want)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", p, err)
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() < 3000 {
		t.Errorf("screenshot is %dx%d, want %d wide and the page's full height (over 3000)", b.Dx(), b.Dy(), width)
	}
}

func TestFileName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"queue", "queue"},
		{"TestConsole/queue-10k.v2", "TestConsole_queue-10k.v2"},
		{"../../etc/passwd", ".._.._etc_passwd"},
		{"..", "_.."},
		{"", "_"},
		{"incident <script>", "incident__script_"},
	} {
		if got := fileName(c.in); got != c.want {
			t.Errorf("fileName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Without chromium a test skips naming it, and fails under CI=true: run in
// a child process with no chromium on PATH.
func TestNewWithoutChromium(t *testing.T) {
	if os.Getenv("BROWSERTEST_CHILD") == "1" {
		New(t)
		t.Fatal("New returned without chromium")
	}
	for _, c := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"", false, "--- SKIP"},
		{"true", true, "--- FAIL"},
	} {
		t.Run("CI="+c.ci, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestNewWithoutChromium$", "-test.v")
			cmd.Env = append(os.Environ(), "BROWSERTEST_CHILD=1", "CI="+c.ci, "PATH="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if (err != nil) != c.wantFail {
				t.Fatalf("exit error %v, want failure %v:\n%s", err, c.wantFail, out)
			}
			if !strings.Contains(string(out), c.want) || !strings.Contains(string(out), "missing: Debian's Chromium browser for the browser tests (apt-get install chromium)") {
				t.Fatalf("output lacks %q and what is missing:\n%s", c.want, out)
			}
		})
	}
}

// recordingTB keeps Errorf and Fatalf messages instead of failing, to test
// what an assertion reports.
type recordingTB struct {
	testing.TB
	mu  sync.Mutex
	msg []string
}

func (r *recordingTB) Helper()                      {}
func (r *recordingTB) Logf(string, ...any)          {}
func (r *recordingTB) Errorf(f string, args ...any) { r.add(fmt.Sprintf(f, args...)) }
func (r *recordingTB) Fatalf(f string, args ...any) { r.add(fmt.Sprintf(f, args...)) }
func (r *recordingTB) add(s string)                 { r.mu.Lock(); r.msg = append(r.msg, s); r.mu.Unlock() }
func (r *recordingTB) errors() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.msg, "\n")
}

func image1x1() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.RGBA{0, 128, 0, 255})
	return img
}
