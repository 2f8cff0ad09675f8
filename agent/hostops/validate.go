package hostops

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"
)

const (
	maxPathLen = 4096
	maxTextLen = 4096
)

// Name grammars. Each starts with a letter or digit, so no name can be
// read as an option by the program it is given to.
var (
	// systemd unit names without the "\" escape.
	serviceRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@:-]*$`)
	// shadow-utils' permissive default, minus the trailing "$" of machine accounts.
	accountRe     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	remediationRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	// Debian policy §5.6.1: lowercase, digits, + - . ; at least two characters.
	debPackageRe = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	// RPM names; no glob characters, which dnf/yum would expand.
	rpmPackageRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_+.-]*$`)
	configKeyRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	commandIDRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	backupIDRe   = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}$`)
)

// shellMeta are refused in names, paths and written values. Nothing here
// reaches a shell, but a string carrying them is either an injection
// attempt or an unexpanded variable, and may reach one later (a config
// file that a shell sources, an operator pasting a path).
const shellMeta = "`$;|&<>\\"

// quote shows an untrusted string in an error without echoing megabytes.
func quote(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q… (%d bytes)", s[:64], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// checkLiteral is the floor for every string from a command: bounded,
// UTF-8, no control characters, no unexpanded {{template}}.
func checkLiteral(field, s string, max int) error {
	if len(s) > max {
		return errBad(field, "is %d bytes, limit %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return errBad(field, "is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errBad(field, "%s contains control character %U", quote(s), r)
		}
	}
	if strings.Contains(s, "{{") || strings.Contains(s, "}}") {
		return errBad(field, "%s contains template syntax {{ }} (an unexpanded playbook variable?)", quote(s))
	}
	return nil
}

// checkText is checkLiteral plus no shell metacharacters.
func checkText(field, s string, max int) error {
	if err := checkLiteral(field, s, max); err != nil {
		return err
	}
	if i := strings.IndexAny(s, shellMeta); i >= 0 {
		return errBad(field, "%s contains shell metacharacter %q (refused: %s)", quote(s), s[i], shellMeta)
	}
	return nil
}

func checkName(field, s string, re *regexp.Regexp, max int) error {
	if s == "" {
		return errBad(field, "required")
	}
	if err := checkText(field, s, max); err != nil {
		return err
	}
	if !re.MatchString(s) {
		return errBad(field, "%s is not a valid name (must match %s)", quote(s), re)
	}
	return nil
}

// checkPath returns the cleaned absolute path. ".." is refused rather than
// cleaned away: a producer sending it is confused or hostile either way.
func checkPath(field, p string) (string, error) {
	if p == "" {
		return "", errBad(field, "required")
	}
	if err := checkText(field, p, maxPathLen); err != nil {
		return "", err
	}
	if !filepath.IsAbs(p) {
		return "", errBad(field, "%s must be an absolute path", quote(p))
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", errBad(field, "%s must not contain \"..\"", quote(p))
		}
	}
	return filepath.Clean(p), nil
}

// under reports whether p is prefix or inside it.
func under(p, prefix string) bool {
	return p == prefix || prefix == "/" || strings.HasPrefix(p, prefix+"/")
}

func underAny(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		if under(p, pre) {
			return true
		}
	}
	return false
}

// checkFileScope applies an allowlist of prefixes (empty: anywhere) and
// always refuses the agent's own state and the kernel's pseudo file systems.
func (h *Host) checkFileScope(field, p string, allow []string, allowField string) error {
	if under(p, h.cfg.DataDir) {
		return errForbidden(field, "%s is inside the agent's data_dir", quote(p))
	}
	for _, pre := range []string{"/proc", "/sys", "/dev"} {
		if under(p, pre) {
			return errForbidden(field, "%s is under %s (not a regular file system)", quote(p), pre)
		}
	}
	if h.self != "" && p == h.self {
		return errForbidden(field, "%s is the agent's own executable", quote(p))
	}
	if len(allow) > 0 && !underAny(p, allow) {
		return errForbidden(field, "%s is outside %s %v", quote(p), allowField, allow)
	}
	return nil
}

func checkCommandID(id string) error {
	const field = "meta.command_id"
	if id == "" {
		return errBad(field, "required (names the evidence directory)")
	}
	if err := checkText(field, id, 64); err != nil {
		return err
	}
	if !commandIDRe.MatchString(id) {
		return errBad(field, "%s must match %s", quote(id), commandIDRe)
	}
	return nil
}
