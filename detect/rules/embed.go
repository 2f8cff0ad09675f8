// Package rules ships Riposte's own default detection rules, loaded by
// riposte serve unless the configuration says otherwise. They are written
// against the field names the normalize package produces (ECS names for
// Linux and web logs, SigmaHQ names for Windows).
package rules

import "embed"

// Default holds the default rules under default/.
//
//go:embed default/*.yml
var Default embed.FS
