package intel

import (
	"strings"

	"golang.org/x/net/publicsuffix"
)

// isPublicSuffix reports whether a normalized (punycode) domain is a public
// suffix by the Public Suffix List, ICANN and private sections alike
// (co.uk, github.io), or a single label. A subdomains entry on one would
// match a whole registry or every customer of a hosting service, so
// importers and Index.Add refuse it; an exact entry is fine.
func isPublicSuffix(d string) bool {
	if !strings.Contains(d, ".") {
		return true
	}
	s, _ := publicsuffix.PublicSuffix(d)
	return s == d
}
