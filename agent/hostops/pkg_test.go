package hostops

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/internal/testenv"
)

func TestPackageNameGrammar(t *testing.T) {
	cases := []struct {
		name     string
		apt, rpm bool
	}{
		{"openssh-server", true, true},
		{"libc6", true, true},
		{"g++", true, true},
		{"python3.11", true, true},
		{"NetworkManager", false, true},
		{"perl_Digest", false, true},
		{"x", false, true}, // Debian names have at least two characters
		{"-oAPT::Get::Pre-Invoke=x", false, false},
		{"bash;reboot", false, false},
		{"bash reboot", false, false},
		{"openssh*", false, false},
		{"pkg[1]", false, false},
		{"../../tmp/evil.deb", false, false},
		{"/tmp/evil.rpm", false, false},
		{"$(id)", false, false},
		{"{{pkg}}", false, false},
		{"", false, false},
		{strings.Repeat("a", 129), false, false},
	}
	for _, tc := range cases {
		for kind, want := range map[string]bool{"apt": tc.apt, "dnf": tc.rpm} {
			err := checkName("name", tc.name, pkgManager{Kind: kind}.nameRe(), 128)
			if (err == nil) != want {
				t.Errorf("%s %q: err %v, want ok=%v", kind, tc.name, err, want)
			}
		}
	}
}

func TestPackageArgv(t *testing.T) {
	// argv are built only when the tool exists; check the shape where it does.
	for _, tc := range []struct {
		kind, tool string
		want       []string
		env        []string
	}{
		{"apt", "apt-get", []string{"install", "--only-upgrade", "-y", "-q", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold", "openssh-server"}, []string{"DEBIAN_FRONTEND=noninteractive"}},
		{"dnf", "dnf", []string{"-y", "upgrade", "openssh-server"}, nil},
		{"yum", "yum", []string{"-y", "update", "openssh-server"}, nil},
	} {
		p := pkgManager{Kind: tc.kind}
		argv, env, err := p.upgradeArgv("openssh-server")
		if _, terr := findTool(tc.tool); terr != nil {
			if statusOf(err) != 501 {
				t.Errorf("%s without %s: %v, want 501", tc.kind, tc.tool, err)
			}
			continue
		}
		if err != nil || !strings.HasSuffix(argv[0], "/"+tc.tool) || !reflect.DeepEqual(argv[1:], tc.want) || !reflect.DeepEqual(env, tc.env) {
			t.Errorf("%s: %q %q %v", tc.kind, argv, env, err)
		}
	}
	if got := (pkgManager{Kind: "apt"}).installedVersions("install ok installed\t1:9.2p1-2+deb12u3\ndeinstall ok config-files\t1.0\n\n"); !reflect.DeepEqual(got, []string{"1:9.2p1-2+deb12u3"}) {
		t.Errorf("apt versions %q", got)
	}
	if got := (pkgManager{Kind: "dnf"}).installedVersions("8.7p1-38.el9.x86_64\n8.7p1-38.el9.i686\n"); len(got) != 2 {
		t.Errorf("rpm versions %q", got)
	}
}

// The real query tool reads the installed version; nothing is upgraded.
func TestPackageQueryReal(t *testing.T) {
	h := newHost(t, nil)
	testenv.Need(t, h.pkg.Kind == "apt", "an apt system: the package manager here is %q and the real query test uses dpkg-query", h.pkg.Kind)
	_, err := findTool("dpkg-query")
	testenv.Need(t, err == nil, "dpkg-query (install dpkg): %v", err)
	vs, err := h.packageVersions(context.Background(), "bash")
	if err != nil || len(vs) == 0 || vs[0] == "" {
		t.Fatalf("bash version %q %v", vs, err)
	}
	vs, err = h.packageVersions(context.Background(), "riposte-no-such-package")
	if err != nil || len(vs) != 0 {
		t.Fatalf("unknown package %q %v", vs, err)
	}
	// A package that is not installed is refused before apt-get runs.
	out := handle(t, h, `{"action":"update","target":{"x-riposte:package":{"name":"riposte-no-such-package"}}}`)
	expect(t, out, 404, "not installed")
	if _, ran := out.Details["exec"]; ran {
		t.Fatal("apt-get ran for a package that is not installed")
	}
}
