package normalize

import (
	"archive/zip"
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/internal/corpus"
)

// TestSigmaRegressionData normalizes every event of SigmaHQ's regression
// cases (evtx_dump layout, sometimes several objects per file).
func TestSigmaRegressionData(t *testing.T) {
	root := corpus.Dir(t, "sigma/regression_data")
	files, events := 0, 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		files++
		fh, err := os.Open(path)
		if err != nil {
			return err
		}
		defer fh.Close()
		rel, _ := filepath.Rel(root, path)
		dec := json.NewDecoder(bufio.NewReader(fh))
		dec.UseNumber()
		for n := 0; dec.More(); n++ {
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				t.Errorf("%s #%d: %v", rel, n, err)
				break
			}
			events++
			checkRegressionEvent(t, rel, n, obj)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no .json files under %s", root)
	}
	t.Logf("%d files, %d events", files, events)
}

func checkRegressionEvent(t *testing.T, rel string, n int, obj map[string]any) {
	t.Helper()
	var ev event.Event
	if layout := FromJSON(obj, &ev); layout != LayoutEvtx {
		t.Errorf("%s #%d: layout %q", rel, n, layout)
		return
	}
	f := ev.Fields
	if s, _ := f["Channel"].(string); s == "" {
		t.Errorf("%s #%d: no Channel", rel, n)
	}
	if _, ok := f["EventID"].(int64); !ok {
		t.Errorf("%s #%d: EventID %#v is not int64", rel, n, f["EventID"])
	}
	if _, ok := f["Provider_Name"].(string); !ok {
		t.Errorf("%s #%d: no Provider_Name", rel, n)
	}
	switch ev.LogSource.Product {
	case "windows", "linux":
	default:
		t.Errorf("%s #%d: logsource %+v", rel, n, ev.LogSource)
	}
	if ev.LogSource.Service == "" {
		t.Errorf("%s #%d: no service for channel %v", rel, n, f["Channel"])
	}
	if ev.Host == "" || ev.Time.IsZero() {
		t.Errorf("%s #%d: host %q time %v", rel, n, ev.Host, ev.Time)
	}
	// The folder names the rule's category (process_creation,
	// registry_set, ...); the derived category must agree for Sysmon.
	if ev.LogSource.Service == "sysmon" {
		parts := strings.Split(filepath.ToSlash(rel), "/")
		for _, p := range parts {
			if p == "process_creation" || p == "image_load" || p == "file_event" || p == "network_connection" ||
				p == "dns_query" || p == "pipe_created" || p == "registry_set" {
				if ev.LogSource.Category != p {
					t.Errorf("%s #%d: category %q, folder says %q", rel, n, ev.LogSource.Category, p)
				}
			}
		}
	}
	for k, v := range f {
		if k == "" || strings.HasSuffix(k, "_") || strings.HasSuffix(k, ".") {
			t.Errorf("%s #%d: bad key %q", rel, n, k)
		}
		if _, isMap := v.(map[string]any); isMap {
			t.Errorf("%s #%d: key %q holds an object", rel, n, k)
		}
	}
}

// TestOTRFSample normalizes the first lines of every OTRF recording: the
// Windows ones must come out as windows-flat with an int64 EventID, and the
// raw audit logs as auditd records.
func TestOTRFSample(t *testing.T) {
	root := corpus.Dir(t, "events/otrf/datasets/atomic")
	const perFile = 300
	counts := map[string]int{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".zip") {
			return err
		}
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		defer zr.Close()
		for _, zf := range zr.File {
			if strings.Contains(zf.Name, "__MACOSX") || !(strings.HasSuffix(zf.Name, ".json") || strings.HasSuffix(zf.Name, ".log")) {
				continue
			}
			rc, err := zf.Open()
			if err != nil {
				return err
			}
			sampleLines(t, filepath.Base(path), rc, perFile, counts)
			rc.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if counts[LayoutWindowsFlat] == 0 || counts[ParserAuditd] == 0 {
		t.Errorf("unexpected mix: %v", counts)
	}
	t.Logf("kinds: %v", counts)
}

func sampleLines(t *testing.T, name string, r io.Reader, max int, counts map[string]int) {
	t.Helper()
	br := bufio.NewReaderSize(r, 1<<16)
	for i := 0; i < max; i++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			var ev event.Event
			kind := FromLine(line, nil, &ev)
			counts[kind]++
			switch kind {
			case LayoutWindowsFlat:
				if _, ok := ev.Fields["EventID"].(int64); !ok || ev.LogSource.Product != "windows" || ev.Host == "" {
					t.Errorf("%s line %d: EventID %#v logsource %+v host %q", name, i+1, ev.Fields["EventID"], ev.LogSource, ev.Host)
				}
			case ParserAuditd:
				if ev.Time.IsZero() || ev.Fields["type"] == "" {
					t.Errorf("%s line %d: audit record without time or type", name, i+1)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
	}
}
