package raise

import (
	"fmt"

	"github.com/riposte-soar/riposte/alert"
)

// Check reports what in alerts breaks the promises of the normalizers, for
// their tests and fuzz tests: an id and the external kind, a rule with a
// Sigma level, and address entities that are single canonical addresses.
func Check(alerts []alert.Alert) error {
	for i, a := range alerts {
		if a.ID == "" || a.Kind != alert.KindExternal || a.Rule.ID == "" || a.Rule.Title == "" {
			return fmt.Errorf("alert %d lacks id, kind, rule id or title: %+v", i, a)
		}
		if _, ok := LevelName(a.Rule.Level); !ok {
			return fmt.Errorf("alert %d has level %q", i, a.Rule.Level)
		}
		for _, ip := range append(append([]string{}, a.Entities.SourceIPs...), a.Entities.DestIPs...) {
			if c, ok := alert.Address(ip); !ok || c != ip {
				return fmt.Errorf("alert %d has address entity %q, not one canonical address", i, ip)
			}
		}
	}
	return nil
}
