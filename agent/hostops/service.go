package hostops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serviceState is a service as its manager reports it.
type serviceState struct {
	Running bool `json:"running"`
	// Instance changes on every start (systemd InvocationID, exec
	// "pid:starttime"), which is how a restart is verified.
	Instance string `json:"instance,omitempty"`
	PID      int    `json:"pid,omitempty"`
	State    string `json:"state"`
}

type serviceManager interface {
	state(ctx context.Context, name string) (serviceState, error)
	start(ctx context.Context, name string) (any, error)
	stop(ctx context.Context, name string) (any, error)
	restart(ctx context.Context, name string) (any, error)
}

type serviceTarget struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
}

func (h *Host) serviceName(c *call) (string, error) {
	field := "target." + c.cmd.Target.Name
	var t serviceTarget
	if err := decodeTarget(c, &t); err != nil {
		return "", err
	}
	if err := checkLiteral(field+".display_name", t.DisplayName, 256); err != nil {
		return "", err
	}
	if err := checkName(field+".name", t.Name, serviceRe, 256); err != nil {
		return "", err
	}
	if !h.services[t.Name] {
		return "", errForbidden(field+".name", "%s is not in the services allowlist", quote(t.Name))
	}
	return t.Name, nil
}

func serviceUndo(action, name string) *undoSpec {
	target := "x-riposte:service"
	if action == "stop" {
		target = "er:service" // the ER pair where one exists
	}
	return &undoSpec{action: action, target: target, value: serviceTarget{Name: name}}
}

// undoSpec defers building the undo until the operation succeeded.
type undoSpec struct {
	action, target string
	value          any
}

func (h *Host) serviceOp(ctx context.Context, c *call, verb string) (result, error) {
	name, err := h.serviceName(c)
	if err != nil {
		return result{}, err
	}
	h.svcMu.Lock()
	defer h.svcMu.Unlock()
	before, err := h.svc.state(ctx, name)
	if err != nil {
		return result{}, err
	}
	det := map[string]any{"service": name, "manager": h.cfg.ServiceManager, "before": before}
	var undo *undoSpec
	var execDet any
	switch {
	case verb == "stop" && !before.Running, verb == "start" && before.Running:
		det["unchanged"] = true
	case verb == "stop":
		execDet, err = h.svc.stop(ctx, name)
		undo = serviceUndo("start", name)
	case verb == "start":
		execDet, err = h.svc.start(ctx, name)
		undo = serviceUndo("stop", name)
	default:
		execDet, err = h.svc.restart(ctx, name)
	}
	if execDet != nil {
		det["exec"] = execDet
	}
	if err != nil {
		return result{details: det}, errFailed("%s %s: %v", verb, name, err)
	}
	if verb != "stop" {
		// A service that dies right after starting has not started.
		select {
		case <-time.After(h.cfg.ServiceSettle):
		case <-ctx.Done():
		}
	}
	var after serviceState
	if verb == "stop" {
		after, err = h.waitState(ctx, name, false)
	} else {
		after, err = h.svc.state(ctx, name)
	}
	det["after"] = after
	if err != nil {
		return result{details: det}, errFailed("verification: %v", err)
	}
	switch {
	case verb == "stop" && after.Running:
		return result{details: det}, errFailed("verification: %s still running (%s) after stop", name, after.State)
	case verb != "stop" && !after.Running:
		return result{details: det}, errFailed("verification: %s is not running (%s) after %s", name, after.State, verb)
	case verb == "restart" && before.Running && after.Instance == before.Instance:
		return result{details: det}, errFailed("verification: %s runs the same instance (%s) as before the restart", name, after.Instance)
	}
	r := result{details: det, verified: true}
	switch {
	case det["unchanged"] == true:
		r.text = fmt.Sprintf("service %s was already %s; verified", name, map[bool]string{true: "running", false: "stopped"}[before.Running])
	case verb == "stop":
		r.text = fmt.Sprintf("service %s stopped; verified not running", name)
	default:
		r.text = fmt.Sprintf("service %s %sed; verified running (%s)", name, verb, after.Instance)
	}
	if undo != nil {
		r.undo = undoCmd(undo.action, undo.target, undo.value, nil)
	}
	return r, nil
}

// waitState polls until the service reaches the wanted state or the kill
// grace passes: systemd reports "deactivating" for a while after stop.
func (h *Host) waitState(ctx context.Context, name string, running bool) (serviceState, error) {
	deadline := time.Now().Add(h.cfg.KillGrace + killWait)
	for {
		st, err := h.svc.state(ctx, name)
		if err != nil || st.Running == running || time.Now().After(deadline) || ctx.Err() != nil {
			return st, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *Host) stopService(ctx context.Context, c *call) (result, error) {
	return h.serviceOp(ctx, c, "stop")
}
func (h *Host) startService(ctx context.Context, c *call) (result, error) {
	return h.serviceOp(ctx, c, "start")
}
func (h *Host) restartService(ctx context.Context, c *call) (result, error) {
	return h.serviceOp(ctx, c, "restart")
}

// ---- systemd ----------------------------------------------------------------

type systemdManager struct{ h *Host }

func systemctlArgv(tool, verb, name string) []string {
	if verb == "show" {
		return []string{tool, "show", "--property=LoadState,ActiveState,SubState,MainPID,InvocationID", "--", name}
	}
	return []string{tool, verb, "--", name}
}

// parseSystemdShow reads `systemctl show` Key=Value lines.
func parseSystemdShow(out string) (serviceState, string) {
	kv := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = v
		}
	}
	st := serviceState{State: kv["ActiveState"] + "/" + kv["SubState"], Instance: kv["InvocationID"]}
	st.PID, _ = strconv.Atoi(kv["MainPID"])
	st.Running = kv["ActiveState"] == "active" || kv["ActiveState"] == "reloading"
	return st, kv["LoadState"]
}

func (m *systemdManager) run(ctx context.Context, verb, name string) (execResult, error) {
	tool, err := findTool("systemctl")
	if err != nil {
		return execResult{}, errNotImpl("Not supported on this host: %v", err)
	}
	return m.h.runTool(ctx, systemctlArgv(tool, verb, name))
}

func (m *systemdManager) state(ctx context.Context, name string) (serviceState, error) {
	res, err := m.run(ctx, "show", name)
	if err != nil {
		if statusOf(err) == 501 {
			return serviceState{}, err
		}
		return serviceState{}, errFailed("systemctl show %s: %v", name, err)
	}
	st, load := parseSystemdShow(res.Stdout)
	if load == "not-found" {
		return st, errNotFound("target.service.name", "systemd has no unit %s", quote(name))
	}
	return st, nil
}

func (m *systemdManager) start(ctx context.Context, name string) (any, error) {
	return m.run(ctx, "start", name)
}
func (m *systemdManager) stop(ctx context.Context, name string) (any, error) {
	return m.run(ctx, "stop", name)
}
func (m *systemdManager) restart(ctx context.Context, name string) (any, error) {
	return m.run(ctx, "restart", name)
}

// ---- exec -------------------------------------------------------------------

type execManager struct {
	h    *Host
	defs map[string]ExecService
}

// execRecord remembers which process the agent started, so a stale pid
// file whose pid was reused by another process is not mistaken for the
// service (and that process not signalled).
type execRecord struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time_ticks"`
}

func (m *execManager) recordPath(name string) string {
	return filepath.Join(m.h.cfg.DataDir, "services", name+".json")
}

func (m *execManager) state(ctx context.Context, name string) (serviceState, error) {
	def := m.defs[name]
	b, err := readBounded(def.PIDFile, 64)
	if errors.Is(err, os.ErrNotExist) {
		return serviceState{State: "stopped (no pid file)"}, nil
	}
	if err != nil {
		return serviceState{}, errFailed("reading %s: %v", def.PIDFile, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid < 1 || pid > pidMaxLimit {
		return serviceState{State: "stopped (unreadable pid file)"}, nil
	}
	st, err := m.h.readStat(pid)
	if err != nil || st.State == 'Z' || st.State == 'X' {
		return serviceState{State: "stopped (stale pid file)", PID: pid}, nil
	}
	var rec execRecord
	if readJSON(m.recordPath(name), &rec) == nil && rec.PID == pid && rec.StartTime != st.StartTime {
		return serviceState{State: "stopped (pid file names a reused pid)", PID: pid}, nil
	}
	return serviceState{Running: true, PID: pid, State: "running",
		Instance: fmt.Sprintf("%d:%d", pid, st.StartTime)}, nil
}

func (m *execManager) start(ctx context.Context, name string) (any, error) {
	def := m.defs[name]
	if def.Forks {
		res, err := m.h.runTool(ctx, def.Start)
		if err != nil {
			return res, err
		}
		// The daemon writes its pid file in its own time.
		deadline := time.Now().Add(m.h.cfg.ExecTimeout)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if st, _ := m.state(ctx, name); st.Running {
				return res, nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		return res, fmt.Errorf("%s exited 0 but %s names no running process", def.Start[0], def.PIDFile)
	}
	// Not exec.CommandContext: the service is meant to outlive this call.
	cmd := exec.Command(def.Start[0], def.Start[1:]...)
	cmd.Env = baseEnv
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %v", def.Start[0], err)
	}
	pid := cmd.Process.Pid
	go func() { _ = cmd.Wait() }() // reap it whenever it exits
	st, err := m.h.readStat(pid)
	if err != nil {
		return map[string]any{"pid": pid}, fmt.Errorf("%s exited immediately", def.Start[0])
	}
	if err := writeJSONAtomic(m.recordPath(name), execRecord{PID: pid, StartTime: st.StartTime}); err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("recording the service's pid: %v (service killed)", err)
	}
	if err := writeFileAtomic(def.PIDFile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		// A service the agent cannot find again must not keep running.
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("writing %s: %v (service killed)", def.PIDFile, err)
	}
	return map[string]any{"pid": pid, "argv": def.Start}, nil
}

func (m *execManager) stop(ctx context.Context, name string) (any, error) {
	def := m.defs[name]
	st, err := m.state(ctx, name)
	if err != nil || !st.Running {
		return nil, err
	}
	ps, err := m.h.readStat(st.PID)
	if err != nil {
		return nil, nil // exited meanwhile
	}
	det := map[string]any{"pid": st.PID}
	if len(def.Stop) > 0 {
		res, err := m.h.runTool(ctx, def.Stop)
		det["stop_command"] = res
		if err != nil {
			return det, err
		}
		if !m.h.waitGone(ctx, st.PID, ps.StartTime, m.h.cfg.KillGrace) {
			return det, fmt.Errorf("process %d still runs %s after the stop command", st.PID, m.h.cfg.KillGrace)
		}
	} else {
		proc, err := os.FindProcess(st.PID)
		if err != nil {
			return det, err
		}
		defer proc.Release()
		if now, err := m.h.readStat(st.PID); err != nil || now.StartTime != ps.StartTime {
			return det, nil
		}
		signals, ok, err := m.h.terminate(ctx, proc, st.PID, ps.StartTime, m.h.cfg.KillGrace)
		det["signals"] = signals
		if err != nil {
			return det, err
		}
		if !ok {
			return det, fmt.Errorf("process %d still runs after %s", st.PID, strings.Join(signals, " and "))
		}
	}
	if !def.Forks {
		// The agent wrote these; a daemon that forks removes its own.
		_ = os.Remove(def.PIDFile)
		_ = os.Remove(m.recordPath(name))
	}
	return det, nil
}

func (m *execManager) restart(ctx context.Context, name string) (any, error) {
	stopDet, err := m.stop(ctx, name)
	if err != nil {
		return map[string]any{"stop": stopDet}, err
	}
	startDet, err := m.start(ctx, name)
	return map[string]any{"stop": stopDet, "start": startDet}, err
}
