package hostops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// baseEnv is the whole environment of every program the agent runs: the
// agent's own environment is not inherited, so nothing set around the
// agent (LD_PRELOAD, PATH, IFS) reaches a remediation or usermod.
var baseEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LC_ALL=C",
	"HOME=/root",
}

// toolDirs are searched for helper programs; $PATH is not consulted.
var toolDirs = []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"}

func findTool(name string) (string, error) {
	for _, d := range toolDirs {
		p := d + "/" + name
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s", name, strings.Join(toolDirs, ", "))
}

// boundedBuffer keeps the first and the last max/2 bytes written: the
// head shows what started, the tail why it ended.
type boundedBuffer struct {
	max   int
	head  []byte
	tail  []byte
	total int64
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.total += int64(len(p))
	half := b.max / 2
	q := p
	if n := half - len(b.head); n > 0 {
		if n > len(q) {
			n = len(q)
		}
		b.head = append(b.head, q[:n]...)
		q = q[n:]
	}
	if len(q) > 0 {
		b.tail = append(b.tail, q...)
		if len(b.tail) > b.max-half {
			b.tail = append(b.tail[:0], b.tail[len(b.tail)-(b.max-half):]...)
		}
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	kept := int64(len(b.head) + len(b.tail))
	if kept == b.total {
		return string(b.head) + string(b.tail)
	}
	return fmt.Sprintf("%s\n…[%d bytes omitted]…\n%s", b.head, b.total-kept, b.tail)
}

func (b *boundedBuffer) truncated() bool { return int64(len(b.head)+len(b.tail)) < b.total }

// execResult is what a finished program reported.
type execResult struct {
	Argv      []string `json:"argv"`
	ExitCode  int      `json:"exit_code"`
	Stdout    string   `json:"stdout,omitempty"`
	Stderr    string   `json:"stderr,omitempty"`
	Truncated bool     `json:"output_truncated,omitempty"`
	TimedOut  bool     `json:"timed_out,omitempty"`
	Millis    int64    `json:"duration_ms"`
}

// run executes argv directly (no shell) with a timeout, a fixed
// environment, stdin from /dev/null and bounded output. It runs the
// program in its own process group and kills the whole group on timeout,
// so a remediation's children cannot outlive it. err is set when the
// program could not be run or timed out; a non-zero exit is in ExitCode.
func run(ctx context.Context, argv []string, extraEnv []string, timeout time.Duration, maxOut int) (execResult, error) {
	res := execResult{Argv: argv, ExitCode: -1}
	if len(argv) == 0 {
		return res, errors.New("empty argv")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(append([]string(nil), baseEnv...), extraEnv...)
	cmd.Dir = "/"
	stdout, stderr := &boundedBuffer{max: maxOut}, &boundedBuffer{max: maxOut}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A grandchild holding the pipes open must not hang the agent.
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err := cmd.Run()
	res.Millis = time.Since(start).Milliseconds()
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	res.Truncated = stdout.truncated() || stderr.truncated()
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() == context.DeadlineExceeded {
		res.TimedOut = true
		return res, fmt.Errorf("%s timed out after %s", argv[0], timeout)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return res, fmt.Errorf("running %s: %v", argv[0], err)
	}
	return res, nil
}

// runTool runs a helper program (usermod, systemctl, …) with ExecTimeout
// and fails on a non-zero exit, quoting its stderr.
func (h *Host) runTool(ctx context.Context, argv []string, extraEnv ...string) (execResult, error) {
	res, err := run(ctx, argv, extraEnv, h.cfg.ExecTimeout, h.cfg.MaxOutput)
	if err != nil {
		return res, err
	}
	if res.ExitCode != 0 {
		return res, fmt.Errorf("%s exited with code %d: %s", strings.Join(argv, " "), res.ExitCode, strings.TrimSpace(res.Stderr))
	}
	return res, nil
}
