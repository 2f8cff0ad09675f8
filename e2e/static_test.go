package e2e

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/testenv"
)

// The container image (Dockerfile) holds the binary, the CA certificates
// and an empty /data owned by the non-root user, nothing else: no libc, no
// /etc/passwd, no /tmp, no /proc. This test builds the binary the way the
// Dockerfile does and runs it in a root filesystem holding only that, as
// the image's user, with an empty environment: if serve needed anything
// more, it fails here rather than in someone's cluster.

// imageUID is the user the image runs as (distroless "nonroot"; the
// Dockerfile's USER).
const imageUID = 65532

// staticVersion is stamped the way the Dockerfile stamps VERSION.
const staticVersion = "v9.9.9-chroot"

func TestStaticBinaryRunsInEmptyRoot(t *testing.T) {
	testenv.Root(t, "chroot(2) into an empty root filesystem")
	certs := "/etc/ssl/certs/ca-certificates.crt"
	_, err := os.Stat(certs)
	testenv.Need(t, err == nil, "the host's CA bundle %s (apt-get install ca-certificates): %v", certs, err)

	bin := buildStatic(t)
	if err := staticELF(bin); err != nil {
		t.Fatalf("the CGO_ENABLED=0 build is not static: %v", err)
	}

	root := t.TempDir()
	// t.TempDir is 0700; the image user must be able to walk its "/".
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, bin, filepath.Join(root, "riposte"), 0o755)
	copyFile(t, certs, filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"), 0o644)
	copyFile(t, "../deploy/image/riposte.yaml", filepath.Join(root, "etc/riposte/riposte.yaml"), 0o644)
	// The image's environment, and its listeners moved from 0.0.0.0 to
	// loopback ports: the child shares the host's network.
	ports := freePorts(t, 3)
	env := []string{"RIPOSTE_CONFIG=/etc/riposte/riposte.yaml",
		"RIPOSTE_HTTP=" + ports[0], "RIPOSTE_NATS_LISTEN=" + ports[1], "RIPOSTE_SYSLOG=" + ports[2]}
	// What the Dockerfile makes: /data, owned by the image user. serve
	// creates everything beneath it.
	if err := os.Mkdir(filepath.Join(root, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(root, "data"), imageUID, imageUID); err != nil {
		t.Fatal(err)
	}
	before := listTree(t, root)

	// riposte version: the binary starts at all, and says what it is.
	var out bytes.Buffer
	v := chrooted(root, env, &out, "/riposte", "version")
	if err := v.Run(); err != nil {
		t.Fatalf("riposte version in the empty root: %v\n%s", err, out.String())
	}
	if !strings.HasPrefix(out.String(), "riposte "+staticVersion+" ") {
		t.Errorf("riposte version = %q, want the stamped %s", out.String(), staticVersion)
	}

	// riposte serve: ready, then a clean stop on SIGTERM.
	var log bytes.Buffer
	s := chrooted(root, env, &log, "/riposte", "serve")
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.Wait() }()
	t.Cleanup(func() {
		if s.ProcessState == nil {
			_ = s.Process.Kill()
			<-exited
		}
	})
	if err := waitReady("http://"+ports[0], exited, 60*time.Second); err != nil {
		t.Fatalf("serve in the empty root: %v; log:\n%s", err, log.String())
	}
	if err := s.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve did not exit cleanly on SIGTERM: %v; log:\n%s", err, log.String())
		}
	case <-time.After(30 * time.Second):
		_ = s.Process.Kill()
		<-exited
		t.Fatalf("serve did not stop within 30s of SIGTERM; log:\n%s", log.String())
	}

	// serve wrote only under /data: nothing else in the root was needed or
	// made (no /tmp, no home directory).
	for p := range listTree(t, root) {
		if !before[p] && !strings.HasPrefix(p, "data/") {
			t.Errorf("serve created %s outside /data", p)
		}
	}
	// ...and it did write there, as the image user.
	fi, err := os.Stat(filepath.Join(root, "data", "admin.token"))
	if err != nil {
		t.Fatalf("no admin token under /data: %v; log:\n%s", err, log.String())
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != imageUID {
		t.Errorf("admin.token owned by uid %d, want %d", st.Uid, imageUID)
	}
}

// The Dockerfile builds and lays out the image as the test above does; if
// one changes, the other must.
func TestDockerfileMatchesStaticTest(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		"CGO_ENABLED=0 go build -trimpath",
		`-ldflags "-s -w -X github.com/riposte-soar/riposte/internal/buildinfo.Override=${VERSION}"`,
		"FROM scratch",
		"COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
		"COPY --from=build /out/riposte /riposte",
		"COPY --from=build --chown=65532:65532 /out/data /data",
		"COPY deploy/image/riposte.yaml /etc/riposte/riposte.yaml",
		fmt.Sprintf("USER %d:%d", imageUID, imageUID),
		"ENV RIPOSTE_CONFIG=/etc/riposte/riposte.yaml",
		`ENTRYPOINT ["/riposte", "serve"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// A checker that passed everything would prove nothing: it must tell a
// dynamically linked program (the host's shell) from the static build.
func TestStaticELFRefusesDynamic(t *testing.T) {
	sh, err := filepath.EvalSymlinks("/bin/sh")
	testenv.Need(t, err == nil, "/bin/sh: %v", err)
	err = staticELF(sh)
	if err == nil || !strings.Contains(err.Error(), "interpreter") {
		t.Errorf("staticELF(%s) = %v, want an error naming its interpreter", sh, err)
	}
}

// buildStatic builds cmd/riposte as the Dockerfile does.
func buildStatic(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "riposte")
	cmd := exec.Command("go", "build", "-trimpath",
		"-ldflags", "-s -w -X github.com/riposte-soar/riposte/internal/buildinfo.Override="+staticVersion,
		"-o", bin, "../cmd/riposte")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	return bin
}

// staticELF says why the file at path would need something from the
// system to run: a program interpreter (the dynamic loader) or shared
// libraries.
func staticELF(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var errs []error
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			interp, _ := io.ReadAll(p.Open())
			errs = append(errs, fmt.Errorf("program interpreter %s", strings.TrimRight(string(interp), "\x00")))
		case elf.PT_DYNAMIC:
			errs = append(errs, errors.New("a dynamic section"))
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil {
		errs = append(errs, fmt.Errorf("reading DT_NEEDED: %w", err))
	} else if len(libs) > 0 {
		errs = append(errs, fmt.Errorf("shared libraries %v", libs))
	}
	return errors.Join(errs...)
}

// chrooted is name run inside root as the image user, with only env as its
// environment. It shares the host's network namespace, so the test reaches
// its loopback listeners.
func chrooted(root string, env []string, out io.Writer, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = "/"
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     root,
		Credential: &syscall.Credential{Uid: imageUID, Gid: imageUID},
	}
	return cmd
}

// waitReady polls base/readyz until it answers 200, the process ends or d
// passes.
func waitReady(base string, exited <-chan error, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("exited before ready: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("not ready within %v", d)
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	copyBytes(t, b, to, mode)
}

func copyBytes(t *testing.T, b []byte, to string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// listTree is every path under root, relative to it.
func listTree(t *testing.T, root string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(root, p); rel != "." {
			seen[rel] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seen
}
