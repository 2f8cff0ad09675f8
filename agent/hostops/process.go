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
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	pidMaxLimit = 4194304    // PID_MAX_LIMIT on 64-bit Linux
	pfKthread   = 0x00200000 // PF_KTHREAD in /proc/<pid>/stat flags
	killWait    = 5 * time.Second
	maxCmdline  = 4096
)

// procStat is the part of /proc/<pid>/stat the agent relies on.
type procStat struct {
	PID       int
	Comm      string
	State     byte
	PPID      int
	Flags     uint64
	StartTime uint64 // clock ticks after boot; with the pid, a process's identity
}

// parseStat parses /proc/<pid>/stat. comm may hold spaces and ")", so the
// fields are found after the last ")".
func parseStat(b []byte) (procStat, error) {
	var ps procStat
	open := bytes.IndexByte(b, '(')
	closeIdx := bytes.LastIndexByte(b, ')')
	if open < 1 || closeIdx < open {
		return ps, errors.New("stat: no (comm)")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:open])))
	if err != nil || pid < 0 {
		return ps, fmt.Errorf("stat: bad pid %q", b[:open])
	}
	ps.PID = pid
	ps.Comm = string(b[open+1 : closeIdx])
	f := strings.Fields(string(b[closeIdx+1:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 || len(f[0]) != 1 {
		return ps, errors.New("stat: too few fields")
	}
	ps.State = f[0][0]
	if ps.PPID, err = strconv.Atoi(f[1]); err != nil {
		return ps, fmt.Errorf("stat: bad ppid %q", f[1])
	}
	if ps.Flags, err = strconv.ParseUint(f[6], 10, 64); err != nil {
		return ps, fmt.Errorf("stat: bad flags %q", f[6])
	}
	if ps.StartTime, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return ps, fmt.Errorf("stat: bad starttime %q", f[19])
	}
	return ps, nil
}

func readBounded(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

func (h *Host) readStat(pid int) (procStat, error) {
	b, err := readBounded(filepath.Join(h.procRoot, strconv.Itoa(pid), "stat"), 4096)
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// procInfo is one process as reported in evidence and used for identity checks.
type procInfo struct {
	PID       int      `json:"pid"`
	PPID      int      `json:"ppid"`
	UID       int      `json:"uid"`
	State     string   `json:"state"`
	Comm      string   `json:"comm"`
	Exe       string   `json:"exe,omitempty"`
	Cwd       string   `json:"cwd,omitempty"`
	Cmdline   []string `json:"cmdline,omitempty"`
	StartTime uint64   `json:"start_time_ticks"`
	Kernel    bool     `json:"kernel_thread,omitempty"`
}

func (h *Host) readProc(pid int) (procInfo, error) {
	st, err := h.readStat(pid)
	if err != nil {
		return procInfo{}, err
	}
	dir := filepath.Join(h.procRoot, strconv.Itoa(pid))
	pi := procInfo{PID: pid, PPID: st.PPID, UID: -1, State: string(st.State), Comm: st.Comm,
		StartTime: st.StartTime, Kernel: st.Flags&pfKthread != 0}
	if b, err := readBounded(filepath.Join(dir, "status"), 64<<10); err == nil {
		pi.UID = statusUID(b)
	}
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		pi.Exe = strings.TrimSuffix(exe, " (deleted)")
	}
	if cwd, err := os.Readlink(filepath.Join(dir, "cwd")); err == nil {
		pi.Cwd = cwd
	}
	if b, err := readBounded(filepath.Join(dir, "cmdline"), maxCmdline); err == nil && len(b) > 0 {
		pi.Cmdline = strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	}
	return pi, nil
}

// statusUID returns the real uid from /proc/<pid>/status, -1 if absent.
func statusUID(b []byte) int {
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					return n
				}
			}
		}
	}
	return -1
}

// gone reports whether the process identified by pid and start time no
// longer runs: no /proc entry, another process under the same pid, or a
// zombie (dead, waiting for a parent that may not be the agent).
func (h *Host) gone(pid int, start uint64) bool {
	st, err := h.readStat(pid)
	if err != nil {
		return true
	}
	return st.StartTime != start || st.State == 'Z' || st.State == 'X' || st.State == 'x'
}

func (h *Host) waitGone(ctx context.Context, pid int, start uint64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if h.gone(pid, start) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// terminate sends SIGTERM, waits up to grace, then SIGKILL. The signals go
// through a pidfd opened before the identity was read, so a pid reused in
// between is never signalled: the pidfd still names the old process.
func (h *Host) terminate(ctx context.Context, proc *os.Process, pid int, start uint64, grace time.Duration) (signals []string, ok bool, err error) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if h.gone(pid, start) {
			return signals, true, nil
		}
		if err := proc.Signal(sig); err != nil {
			if errors.Is(err, os.ErrProcessDone) {
				return signals, true, nil
			}
			return signals, false, fmt.Errorf("%s: %v", sigName(sig), err)
		}
		signals = append(signals, sigName(sig))
		wait := grace
		if sig == syscall.SIGKILL {
			wait = killWait
		}
		if h.waitGone(ctx, pid, start, wait) {
			return signals, true, nil
		}
	}
	return signals, false, nil
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGKILL:
		return "SIGKILL"
	}
	return s.String()
}

type fileTarget struct {
	Name   string            `json:"name,omitempty"`
	Path   string            `json:"path,omitempty"`
	Hashes map[string]string `json:"hashes,omitempty"`
}

type processTarget struct {
	PID         *int64         `json:"pid"`
	Name        string         `json:"name"`
	Cwd         string         `json:"cwd"`
	Executable  *fileTarget    `json:"executable"`
	Parent      *processTarget `json:"parent"`
	CommandLine string         `json:"command_line"`
}

// checkProcessTarget validates the strings of a process target. name and
// command_line are only compared with /proc, so shell metacharacters are
// kept literally there: a malicious command line is exactly what they match.
func checkProcessTarget(field string, t *processTarget, depth int) error {
	if depth > 4 {
		return errBad(field, "parent chain deeper than 4")
	}
	if t.PID != nil && (*t.PID < 1 || *t.PID > pidMaxLimit) {
		return errBad(field+".pid", "%d is not a valid pid (1..%d)", *t.PID, pidMaxLimit)
	}
	if err := checkLiteral(field+".name", t.Name, 256); err != nil {
		return err
	}
	if err := checkLiteral(field+".command_line", t.CommandLine, maxCmdline); err != nil {
		return err
	}
	if t.Cwd != "" {
		if _, err := checkPath(field+".cwd", t.Cwd); err != nil {
			return err
		}
	}
	if e := t.Executable; e != nil {
		if err := checkLiteral(field+".executable.name", e.Name, 256); err != nil {
			return err
		}
		if e.Path != "" {
			if _, err := checkPath(field+".executable.path", e.Path); err != nil {
				return err
			}
		}
	}
	if t.Parent != nil {
		return checkProcessTarget(field+".parent", t.Parent, depth+1)
	}
	return nil
}

// matchProcess compares every field the producer gave with the running
// process; any difference means the pid now names something else.
func (h *Host) matchProcess(field string, pi procInfo, t *processTarget, depth int) error {
	mismatch := func(f, want, got string) error {
		return errNotFound(field+"."+f, "process %d has %s %s, not %s (pid reused?); nothing signalled", pi.PID, f, quote(got), quote(want))
	}
	if t.PID != nil && int(*t.PID) != pi.PID {
		return mismatch("pid", strconv.FormatInt(*t.PID, 10), strconv.Itoa(pi.PID))
	}
	if t.Name != "" {
		// comm is truncated to 15 bytes by the kernel.
		want := t.Name
		if len(want) > 15 {
			want = want[:15]
		}
		if pi.Comm != want && filepath.Base(pi.Exe) != t.Name {
			return mismatch("name", t.Name, pi.Comm)
		}
	}
	if t.Cwd != "" && filepath.Clean(t.Cwd) != pi.Cwd {
		return mismatch("cwd", t.Cwd, pi.Cwd)
	}
	if t.CommandLine != "" && strings.Join(pi.Cmdline, " ") != t.CommandLine {
		return mismatch("command_line", t.CommandLine, strings.Join(pi.Cmdline, " "))
	}
	if e := t.Executable; e != nil {
		if e.Path != "" && filepath.Clean(e.Path) != pi.Exe {
			return mismatch("executable.path", e.Path, pi.Exe)
		}
		if e.Name != "" && filepath.Base(pi.Exe) != e.Name {
			return mismatch("executable.name", e.Name, filepath.Base(pi.Exe))
		}
		if len(e.Hashes) > 0 {
			// /proc/<pid>/exe opens the image actually running, even if the
			// file on disk was replaced or deleted.
			f, err := os.Open(filepath.Join(h.procRoot, strconv.Itoa(pi.PID), "exe"))
			if err != nil {
				return errFailed("%s.executable.hashes: cannot read the executable of process %d: %v", field, pi.PID, err)
			}
			s, _, err := copyHashed(nil, f, h.cfg.MaxFileSize)
			f.Close()
			if err != nil {
				return errFailed("%s.executable.hashes: hashing the executable of process %d: %v", field, pi.PID, err)
			}
			if ok, k := s.match(e.Hashes); !ok {
				return errNotFound(field+".executable.hashes."+k, "executable of process %d does not match (sha256 %s); nothing signalled", pi.PID, s.SHA256)
			}
		}
	}
	if t.Parent != nil {
		pp, err := h.readProc(pi.PPID)
		if err != nil {
			return errNotFound(field+".parent", "parent %d of process %d is gone", pi.PPID, pi.PID)
		}
		return h.matchProcess(field+".parent", pp, t.Parent, depth+1)
	}
	return nil
}

// killProcess: stop process.
func (h *Host) killProcess(ctx context.Context, c *call) (result, error) {
	const field = "target.process"
	var t processTarget
	if err := decodeTarget(c, &t); err != nil {
		return result{}, err
	}
	if t.PID == nil {
		return result{}, errBad(field+".pid", "required (the agent kills by pid, checked against the other fields)")
	}
	if err := checkProcessTarget(field, &t, 0); err != nil {
		return result{}, err
	}
	grace := h.cfg.KillGrace
	if raw, ok := c.xargs["grace_ms"]; ok {
		var ms int64
		if err := json.Unmarshal(raw, &ms); err != nil || ms < 0 || ms > 600000 {
			return result{}, errBad("args.x-riposte.grace_ms", "must be an integer in [0, 600000]")
		}
		grace = time.Duration(ms) * time.Millisecond
	}
	pid := int(*t.PID)
	switch pid {
	case 1, os.Getpid(), os.Getppid():
		return result{}, errForbidden(field+".pid", "%d is init, the agent or the agent's parent", pid)
	}
	proc, err := os.FindProcess(pid) // a pidfd on Linux ≥ 5.3
	if err != nil {
		return result{}, errFailed("%s.pid: %v", field, err)
	}
	defer proc.Release()
	pi, err := h.readProc(pid)
	if err != nil {
		return result{}, errNotFound(field+".pid", "no process %d", pid)
	}
	d := map[string]any{"pid": pid, "comm": pi.Comm, "exe": pi.Exe, "uid": pi.UID,
		"cmdline": pi.Cmdline, "start_time_ticks": pi.StartTime}
	if pi.Kernel {
		return result{details: d}, errForbidden(field+".pid", "%d is a kernel thread", pid)
	}
	if err := h.matchProcess(field, pi, &t, 0); err != nil {
		return result{details: d}, err
	}
	if pi.State == "Z" {
		d["already_exited"] = true
		return result{text: fmt.Sprintf("process %d (%s) had already exited", pid, pi.Comm), details: d, verified: true}, nil
	}
	started := time.Now()
	signals, ok, err := h.terminate(ctx, proc, pid, pi.StartTime, grace)
	d["signals"] = signals
	d["elapsed_ms"] = time.Since(started).Milliseconds()
	if err != nil {
		return result{details: d}, errFailed("signalling process %d: %v", pid, err)
	}
	if !ok {
		return result{details: d}, errFailed("process %d (%s) still runs after %s", pid, pi.Comm, strings.Join(signals, " and "))
	}
	d["verified"] = "/proc/" + strconv.Itoa(pid) + " gone, a zombie, or another process"
	how := strings.Join(signals, ", ")
	if how == "" {
		how = "it exited before a signal was sent"
	}
	return result{text: fmt.Sprintf("process %d (%s) stopped (%s); verified gone", pid, pi.Comm, how),
		details: d, verified: true}, nil
}
