package hostops

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// pkgManager builds the argv for one distribution's package tools.
type pkgManager struct {
	Kind string // "apt", "dnf", "yum"; "" when none was found
}

func detectPackageManager(kind string) (pkgManager, error) {
	switch kind {
	case "apt", "dnf", "yum":
		return pkgManager{Kind: kind}, nil
	case "":
		for _, c := range []struct{ kind, tool string }{{"apt", "apt-get"}, {"dnf", "dnf"}, {"yum", "yum"}} {
			if _, err := findTool(c.tool); err == nil {
				return pkgManager{Kind: c.kind}, nil
			}
		}
		return pkgManager{}, nil
	}
	return pkgManager{}, fmt.Errorf("hostops: package_manager: %q is not one of apt, dnf, yum", kind)
}

func (p pkgManager) nameRe() *regexp.Regexp {
	if p.Kind == "apt" {
		return debPackageRe
	}
	return rpmPackageRe
}

func (p pkgManager) tool(name string) (string, error) {
	t, err := findTool(name)
	if err != nil {
		return "", errNotImpl("Not supported on this host: %v", err)
	}
	return t, nil
}

// queryArgv prints "<status>\t<version>" lines (apt) or "<version>" lines
// (rpm), one per installed architecture.
func (p pkgManager) queryArgv(name string) ([]string, error) {
	switch p.Kind {
	case "apt":
		t, err := p.tool("dpkg-query")
		return []string{t, "-W", "-f=${Status}\t${Version}\n", name}, err
	case "dnf", "yum":
		t, err := p.tool("rpm")
		return []string{t, "-q", "--qf", "%{VERSION}-%{RELEASE}.%{ARCH}\n", name}, err
	}
	return nil, errNotImpl("Not supported on this host: no apt-get, dnf or yum")
}

// refreshArgv updates the package lists first: apt does not on its own,
// so --only-upgrade would see no newer version. dnf/yum refresh by age.
func (p pkgManager) refreshArgv() ([]string, error) {
	if p.Kind != "apt" {
		return nil, nil
	}
	t, err := p.tool("apt-get")
	return []string{t, "update", "-q"}, err
}

// upgradeArgv upgrades an installed package and never installs a new one.
// dpkg keeps locally changed configuration files rather than prompting.
func (p pkgManager) upgradeArgv(name string) (argv, env []string, err error) {
	switch p.Kind {
	case "apt":
		t, err := p.tool("apt-get")
		return []string{t, "install", "--only-upgrade", "-y", "-q",
				"-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold", name},
			[]string{"DEBIAN_FRONTEND=noninteractive"}, err
	case "dnf":
		t, err := p.tool("dnf")
		return []string{t, "-y", "upgrade", name}, nil, err
	case "yum":
		t, err := p.tool("yum")
		return []string{t, "-y", "update", name}, nil, err
	}
	return nil, nil, errNotImpl("Not supported on this host: no apt-get, dnf or yum")
}

// installedVersions parses queryArgv output.
func (p pkgManager) installedVersions(out string) []string {
	var vs []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if p.Kind == "apt" {
			status, ver, ok := strings.Cut(line, "\t")
			if !ok || !strings.HasSuffix(status, " installed") || ver == "" {
				continue
			}
			line = ver
		}
		vs = append(vs, line)
	}
	return vs
}

func (h *Host) packageVersions(ctx context.Context, name string) ([]string, error) {
	argv, err := h.pkg.queryArgv(name)
	if err != nil {
		return nil, err
	}
	// dpkg-query and rpm exit 1 for a package they do not know: that is
	// "not installed", not a failure.
	res, err := run(ctx, argv, nil, h.cfg.ExecTimeout, h.cfg.MaxOutput)
	if err != nil {
		return nil, errFailed("querying %s: %v", name, err)
	}
	if res.ExitCode != 0 && res.ExitCode != 1 {
		return nil, errFailed("%s exited with code %d: %s", strings.Join(argv, " "), res.ExitCode, strings.TrimSpace(res.Stderr))
	}
	return h.pkg.installedVersions(res.Stdout), nil
}

// upgradePackage: update x-riposte:package {"name": N}.
func (h *Host) upgradePackage(ctx context.Context, c *call) (result, error) {
	const field = "target.x-riposte:package.name"
	var t nameTarget
	if err := decodeTarget(c, &t); err != nil {
		return result{}, err
	}
	if h.pkg.Kind == "" {
		return result{}, errNotImpl("Not supported on this host: no apt-get, dnf or yum")
	}
	if err := checkName(field, t.Name, h.pkg.nameRe(), 128); err != nil {
		return result{}, err
	}
	det := map[string]any{"package": t.Name, "manager": h.pkg.Kind}
	old, err := h.packageVersions(ctx, t.Name)
	if err != nil {
		return result{details: det}, err
	}
	if len(old) == 0 {
		return result{details: det}, errNotFound(field, "package %s is not installed (upgrade never installs)", quote(t.Name))
	}
	det["old_version"] = strings.Join(old, ", ")
	if argv, err := h.pkg.refreshArgv(); err == nil && argv != nil && !h.cfg.SkipPackageRefresh {
		res, err := run(ctx, argv, []string{"DEBIAN_FRONTEND=noninteractive"}, h.cfg.PackageTimeout, h.cfg.MaxOutput)
		det["refresh"] = res
		if err != nil || res.ExitCode != 0 {
			det["refresh_warning"] = fmt.Sprintf("package list refresh failed (exit %d, %v); upgrading from the lists present", res.ExitCode, err)
		}
	}
	argv, env, err := h.pkg.upgradeArgv(t.Name)
	if err != nil {
		return result{details: det}, err
	}
	res, err := run(ctx, argv, env, h.cfg.PackageTimeout, h.cfg.MaxOutput)
	det["exec"] = res
	if err != nil {
		return result{details: det}, errFailed("upgrading %s: %v", t.Name, err)
	}
	if res.ExitCode != 0 {
		return result{details: det}, errFailed("upgrading %s: %s exited with code %d", t.Name, argv[0], res.ExitCode)
	}
	nv, err := h.packageVersions(ctx, t.Name)
	if err != nil {
		return result{details: det}, errFailed("verification: %v", err)
	}
	if len(nv) == 0 {
		return result{details: det}, errFailed("verification: %s is no longer installed after the upgrade", t.Name)
	}
	det["new_version"] = strings.Join(nv, ", ")
	det["changed"] = det["new_version"] != det["old_version"]
	text := fmt.Sprintf("package %s upgraded from %s to %s; verified installed version", t.Name, det["old_version"], det["new_version"])
	if det["changed"] == false {
		text = fmt.Sprintf("package %s already at the newest available version %s; verified", t.Name, det["new_version"])
	}
	return result{text: text, details: det, verified: true}, nil
}
