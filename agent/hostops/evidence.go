package hostops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const (
	maxProcesses  = 1 << 17
	maxFDsPerProc = 1 << 16
	maxLogBytes   = 8 << 20 // read at most this much from the end of a log
)

// evidenceDir is DataDir/evidence/<command id>, created on first use.
func (h *Host) evidenceDir(c *call) (string, error) {
	if err := checkCommandID(c.meta.CommandID); err != nil {
		return "", err
	}
	dir := filepath.Join(h.cfg.DataDir, "evidence", c.meta.CommandID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", errFailed("evidence staging: %v", err)
	}
	return dir, nil
}

// stage writes one evidence item from r, hashing as it goes, then re-reads
// it to verify the hash. A retried command replaces its own item.
func (h *Host) stage(c *call, name, source string, r io.Reader) (Evidence, error) {
	dir, err := h.evidenceDir(c)
	if err != nil {
		return Evidence{}, err
	}
	tmpName, s, n, err := writeHashed(dir, ".staging-*", r, h.cfg.MaxFileSize)
	if err != nil {
		return Evidence{}, errFailed("staging %s: %v", name, err)
	}
	defer os.Remove(tmpName) // no-op once renamed
	p := filepath.Join(dir, name)
	if err := os.Rename(tmpName, p); err != nil {
		return Evidence{}, errFailed("staging %s: %v", name, err)
	}
	got, gn, err := hashFile(p, h.cfg.MaxFileSize)
	if err != nil || got != s.SHA256 || gn != n {
		return Evidence{}, errFailed("verification: staged %s hashes to %s (%d bytes), expected %s (%d bytes): %v", name, got, gn, s.SHA256, n, err)
	}
	ev := Evidence{Name: name, Path: p, Source: source, SHA256: s.SHA256, Size: n,
		CollectedAt: c.meta.Now.UTC(), Requester: c.meta.Requester, Incident: c.meta.Incident, CommandID: c.meta.CommandID}
	if err := h.recordEvidence(dir, ev); err != nil {
		return ev, errFailed("evidence manifest: %v", err)
	}
	return ev, nil
}

// recordEvidence keeps DataDir/evidence/<id>/manifest.json, the custody
// record that travels with the files.
func (h *Host) recordEvidence(dir string, ev Evidence) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var items []Evidence
	p := filepath.Join(dir, "manifest.json")
	if err := readJSON(p, &items); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	kept := items[:0]
	for _, it := range items {
		if it.Name != ev.Name {
			kept = append(kept, it)
		}
	}
	return writeJSONAtomic(p, append(kept, ev))
}

func evidenceResult(ev Evidence, det map[string]any) result {
	det = withDetail(det, "evidence", ev)
	det["verified"] = "staged copy re-read: sha256 and size match"
	return result{text: fmt.Sprintf("collected %s (%d bytes, sha256 %s); verified", ev.Name, ev.Size, ev.SHA256),
		details: det, evidence: []Evidence{ev}, verified: true}
}

// safeName turns a file name into an evidence item name.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	out := strings.TrimLeft(string(b), ".")
	if len(out) > 100 {
		out = out[:100]
	}
	if out == "" {
		out = "file"
	}
	return out
}

type pathTarget struct {
	Path string `json:"path"`
}

// collectFile: investigate x-riposte:evidence_file {"path": P}.
func (h *Host) collectFile(ctx context.Context, c *call) (result, error) {
	const field = "target.x-riposte:evidence_file.path"
	var t pathTarget
	if err := decodeTarget(c, &t); err != nil {
		return result{}, err
	}
	p, err := checkPath(field, t.Path)
	if err != nil {
		return result{}, err
	}
	if err := h.checkFileScope(field, p, h.cfg.EvidencePaths, "evidence_paths"); err != nil {
		return result{}, err
	}
	if err := checkCommandID(c.meta.CommandID); err != nil {
		return result{}, err
	}
	d, f, st, err := openRegular(field, p)
	if err != nil {
		return result{}, err
	}
	defer d.Close()
	defer f.Close()
	det := map[string]any{"source": p, "source_stat": statDetails(st)}
	if st.Size > h.cfg.MaxFileSize {
		return result{details: det}, errBad(field, "%s is %d bytes, max_file_size is %d", quote(p), st.Size, h.cfg.MaxFileSize)
	}
	ev, err := h.stage(c, "file-"+safeName(filepath.Base(p)), p, f)
	if err != nil {
		return result{details: det}, err
	}
	return evidenceResult(ev, det), nil
}

type emptyTarget struct{}

// listProcesses reads every /proc/<pid>.
func (h *Host) listProcesses() ([]procInfo, error) {
	ents, err := os.ReadDir(h.procRoot)
	if err != nil {
		return nil, err
	}
	var out []procInfo
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if len(out) >= maxProcesses {
			break
		}
		if pi, err := h.readProc(pid); err == nil {
			out = append(out, pi)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

// collectProcesses: investigate x-riposte:processes {}.
func (h *Host) collectProcesses(ctx context.Context, c *call) (result, error) {
	var t emptyTarget
	if err := decodeTarget(c, &t); err != nil {
		return result{}, err
	}
	if err := checkCommandID(c.meta.CommandID); err != nil {
		return result{}, err
	}
	procs, err := h.listProcesses()
	if err != nil {
		return result{}, errFailed("listing %s: %v", h.procRoot, err)
	}
	b, _ := json.MarshalIndent(procs, "", " ")
	ev, err := h.stage(c, "processes.json", h.procRoot, bytes.NewReader(b))
	if err != nil {
		return result{}, err
	}
	return evidenceResult(ev, map[string]any{"processes": len(procs)}), nil
}

// socketOwners maps socket inodes to the processes holding them, from the
// /proc/<pid>/fd links ("socket:[12345]").
func (h *Host) socketOwners() map[uint64]procInfo {
	owners := map[uint64]procInfo{}
	procs, _ := h.listProcesses()
	for _, pi := range procs {
		fdDir := filepath.Join(h.procRoot, strconv.Itoa(pi.PID), "fd")
		d, err := os.Open(fdDir)
		if err != nil {
			continue
		}
		names, _ := d.Readdirnames(maxFDsPerProc)
		d.Close()
		for _, n := range names {
			link, err := os.Readlink(filepath.Join(fdDir, n))
			if err != nil {
				continue
			}
			if s, ok := strings.CutPrefix(link, "socket:["); ok {
				if ino, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64); err == nil {
					if _, seen := owners[ino]; !seen {
						owners[ino] = pi
					}
				}
			}
		}
	}
	return owners
}

// collectConnections: investigate x-riposte:connections {}.
func (h *Host) collectConnections(ctx context.Context, c *call) (result, error) {
	var t emptyTarget
	if err := decodeTarget(c, &t); err != nil {
		return result{}, err
	}
	if err := checkCommandID(c.meta.CommandID); err != nil {
		return result{}, err
	}
	var all []Conn
	det := map[string]any{}
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open(filepath.Join(h.procRoot, "net", proto))
		if err != nil {
			det[proto+"_error"] = err.Error() // no IPv6 is not a failure
			continue
		}
		conns, bad, err := parseProcNet(f, proto)
		f.Close()
		if bad > 0 {
			det[proto+"_malformed_lines"] = bad
		}
		if err != nil {
			det[proto+"_error"] = err.Error()
		}
		all = append(all, conns...)
	}
	owners := h.socketOwners()
	for i := range all {
		if pi, ok := owners[all[i].Inode]; ok && all[i].Inode != 0 {
			all[i].PID, all[i].Comm = pi.PID, pi.Comm
		}
	}
	b, _ := json.MarshalIndent(all, "", " ")
	ev, err := h.stage(c, "connections.json", filepath.Join(h.procRoot, "net"), bytes.NewReader(b))
	if err != nil {
		return result{details: det}, err
	}
	det["connections"] = len(all)
	return evidenceResult(ev, det), nil
}

type logTarget struct {
	Path  string `json:"path"`
	Lines *int64 `json:"lines"`
}

// collectLogLines: investigate x-riposte:log_lines {"path": P, "lines": N}.
func (h *Host) collectLogLines(ctx context.Context, c *call) (result, error) {
	const field = "target.x-riposte:log_lines"
	var t logTarget
	if err := decodeTarget(c, &t); err != nil {
		return result{}, err
	}
	p, err := checkPath(field+".path", t.Path)
	if err != nil {
		return result{}, err
	}
	if !h.logFiles[p] {
		return result{}, errForbidden(field+".path", "%s is not in log_files", quote(p))
	}
	n := int64(DefaultLogLines)
	if t.Lines != nil {
		n = *t.Lines
		if n < 1 || n > MaxLogLines {
			return result{}, errBad(field+".lines", "%d is outside [1, %d]", n, MaxLogLines)
		}
	}
	if err := checkCommandID(c.meta.CommandID); err != nil {
		return result{}, err
	}
	d, f, st, err := openRegular(field+".path", p)
	if err != nil {
		return result{}, err
	}
	defer d.Close()
	defer f.Close()
	tail, got, err := tailLines(f, st.Size, int(n))
	if err != nil {
		return result{}, errFailed("reading %s: %v", p, err)
	}
	det := map[string]any{"source": p, "lines_requested": n, "lines": got, "source_size": st.Size}
	ev, err := h.stage(c, "log-"+safeName(filepath.Base(p))+".txt", p, bytes.NewReader(tail))
	if err != nil {
		return result{details: det}, err
	}
	return evidenceResult(ev, det), nil
}

// tailLines returns the last n lines of a file of the given size, reading
// backwards in chunks and never more than maxLogBytes.
func tailLines(f *os.File, size int64, n int) ([]byte, int, error) {
	const chunk = 64 << 10
	var buf []byte
	newlines := 0
	off := size
	for off > 0 && int64(len(buf)) < maxLogBytes {
		step := int64(chunk)
		if step > off {
			step = off
		}
		off -= step
		b := make([]byte, step)
		rn, err := f.ReadAt(b, off)
		if err != nil && err != io.EOF {
			return nil, 0, err
		}
		b = b[:rn] // the log may have been truncated meanwhile
		newlines += bytes.Count(b, []byte{'\n'})
		buf = append(b, buf...)
		// n whole lines need n+1 newlines once the final one is discounted.
		if newlines > n {
			break
		}
	}
	body := bytes.TrimSuffix(buf, []byte{'\n'})
	lines := bytes.Split(body, []byte{'\n'})
	if len(body) == 0 {
		return nil, 0, nil
	}
	if off > 0 && len(lines) > 0 {
		lines = lines[1:] // the first one is probably cut
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := append(bytes.Join(lines, []byte{'\n'}), '\n')
	return out, len(lines), nil
}
