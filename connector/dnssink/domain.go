package dnssink

import (
	"errors"
	"net/netip"
	"regexp"
	"strings"
)

var labelRE = regexp.MustCompile(`^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$`)

// CheckDomain returns d lower-cased and fully qualified (a trailing dot),
// or why it cannot be sinkholed: it must be a DNS name of at least two
// labels (a top-level domain alone is refused), letters, digits, '-' and
// '_' only (internationalised names in their xn-- form), so that it is one
// inert argument of unbound-control.
func CheckDomain(d string) (string, error) {
	if d == "" {
		return "", errors.New("empty domain")
	}
	if len(d) > 254 {
		return "", errors.New("longer than 253 characters")
	}
	if _, err := netip.ParseAddr(strings.Trim(d, "[]")); err == nil {
		return "", errors.New("an IP address, not a domain")
	}
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "", errors.New("a single label (a top-level domain cannot be sinkholed)")
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return "", errors.New("not a domain name (labels of 1 to 63 letters, digits, '-' or '_', not starting or ending with '-')")
		}
	}
	if len(d) > 253 {
		return "", errors.New("longer than 253 characters")
	}
	return d + ".", nil
}

// under reports whether name (fully qualified) is zone or below it.
func under(name, zone string) bool {
	return name == zone || strings.HasSuffix(name, "."+zone)
}
