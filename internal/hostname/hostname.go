// Package hostname checks that a value names one host, a DNS name or an IP
// address, and nothing else: no user@, port, path, scheme or option. Values
// that become a connection's host (ssh targets, CACAO agent-target
// addresses) pass through it, so a hostile field cannot smuggle more in.
package hostname

import (
	"errors"
	"net/netip"
	"regexp"
	"strings"
)

var nameRE = regexp.MustCompile(`^(?i:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.(?i:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?))*\.?$`)

// Check returns h in canonical form: an address unmapped and without
// brackets, a name lower-cased without its trailing dot.
func Check(h string) (string, error) {
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); err == nil {
		if a.Zone() != "" {
			return "", errors.New("an address with a zone is not supported")
		}
		return a.Unmap().String(), nil
	}
	if len(h) == 0 || len(h) > 253 || !nameRE.MatchString(h) {
		return "", errors.New("not a host name or IP address")
	}
	return strings.ToLower(strings.TrimSuffix(h, ".")), nil
}
