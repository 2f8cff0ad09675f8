package detect

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/normalize"
	"github.com/riposte-soar/riposte/parse/jsonfast"
)

// ReadEvents reads a file of events for the rules commands: NDJSON, a
// stream of concatenated JSON objects (evtx_dump's layout), or a zip of such
// files (the OTRF datasets). It returns each object's bytes in order.
func ReadEvents(path string) ([][]byte, error) {
	if strings.EqualFold(filepath.Ext(path), ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		var out [][]byte
		for _, f := range zr.File {
			// Datasets ship CSV and PCAP beside the JSON; only JSON holds events.
			ext := strings.ToLower(filepath.Ext(f.Name))
			// macOS resource forks (__MACOSX/._x.json) carry the extension too.
			base := filepath.Base(f.Name)
			if f.FileInfo().IsDir() || strings.HasPrefix(base, "._") || (ext != ".json" && ext != ".jsonl" && ext != ".ndjson") {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, f.Name, err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, f.Name, err)
			}
			objs, err := splitObjects(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, f.Name, err)
			}
			out = append(out, objs...)
		}
		return out, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	objs, err := splitObjects(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return objs, nil
}

func splitObjects(b []byte) ([][]byte, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	var out [][]byte
	for {
		var raw json.RawMessage
		if err := d.Decode(&raw); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("event %d (byte %d): %v", len(out), d.InputOffset(), err)
		}
		out = append(out, raw)
	}
}

// Normalize decodes and normalizes one event object the way ingest does.
func Normalize(raw []byte, ev *event.Event) error {
	obj, err := jsonfast.DecodeObjectShared(raw)
	if err != nil {
		return err
	}
	*ev = event.Event{Raw: raw, Received: time.Now().UTC()}
	normalize.FromJSON(obj, ev)
	return nil
}
