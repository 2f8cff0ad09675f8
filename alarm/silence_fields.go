package alarm

import "slices"

// MatcherFields are the alert fields a silence matcher may name (forms
// offer them as a list).
func MatcherFields() []string { return slices.Clone(matcherFields) }
