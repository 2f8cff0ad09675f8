package console

import "regexp"

// mentionRE finds @name mentions: the names people sign in with.
var mentionRE = regexp.MustCompile(`@[A-Za-z0-9][A-Za-z0-9._-]*`)

// segment is a piece of a comment: plain text or a mention. The template
// escapes both; a mention is only wrapped in a highlight.
type segment struct {
	Text    string
	Mention bool
}

func mentions(s string) []segment {
	var out []segment
	last := 0
	for _, m := range mentionRE.FindAllStringIndex(s, -1) {
		if m[0] > 0 && isNameByte(s[m[0]-1]) {
			continue // an address like a@b, not a mention
		}
		if m[0] > last {
			out = append(out, segment{Text: s[last:m[0]]})
		}
		out = append(out, segment{Text: s[m[0]:m[1]], Mention: true})
		last = m[1]
	}
	if last < len(s) {
		out = append(out, segment{Text: s[last:]})
	}
	return out
}

func isNameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-'
}

func init() {
	funcs["mentions"] = mentions
	// firstN keeps a long list short on the page.
	funcs["firstN"] = func(n int, l []string) []string {
		if len(l) > n {
			return l[:n]
		}
		return l
	}
	funcs["sub"] = func(a, b int) int { return a - b }
}
