package sigma

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// atomKind is one piece of a Sigma string value after escape processing.
type atomKind uint8

const (
	aLit  atomKind = iota // literal text
	aStar                 // * : any run of characters, including none and newlines
	aOne                  // ? : exactly one character (rune)
	aDash                 // windash position: one of - / – — ―
	aPH                   // %name% placeholder (expand)
)

type atom struct {
	k atomKind
	s string
}

// sstr is a Sigma string: literals, wildcards and the positions modifiers
// introduce. Adjacent literals are merged and runs of * collapsed, so a
// value compiles to the simplest test that decides it.
type sstr []atom

func (s sstr) add(a atom) sstr {
	if a.k == aLit && a.s == "" {
		return s
	}
	if n := len(s); n > 0 {
		last := &s[n-1]
		if a.k == aLit && last.k == aLit {
			last.s += a.s
			return s
		}
		if a.k == aStar && last.k == aStar {
			return s
		}
	}
	return append(s, a)
}

// parseSigmaString applies Sigma's escaping (spec §5, as pySigma's
// SigmaString): \* \? and \\ escape; a backslash before anything else, or
// at the end, is itself literal.
func parseSigmaString(v string) sstr {
	var out sstr
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = out.add(atom{k: aLit, s: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '\\':
			if i+1 < len(v) {
				switch v[i+1] {
				case '*', '?', '\\':
					lit.WriteByte(v[i+1])
					i++
					continue
				}
			}
			lit.WriteByte('\\')
		case '*':
			flush()
			out = out.add(atom{k: aStar})
		case '?':
			flush()
			out = out.add(atom{k: aOne})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return out
}

// literalString is a plain (non-string YAML scalar, fieldref, ...) value.
func literalString(v string) sstr {
	return sstr(nil).add(atom{k: aLit, s: v})
}

func (s sstr) clone() sstr { return append(sstr(nil), s...) }

// String renders the value back in Sigma syntax (for messages).
func (s sstr) String() string {
	var b strings.Builder
	for _, a := range s {
		switch a.k {
		case aLit:
			for _, r := range a.s {
				if r == '*' || r == '?' || r == '\\' {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
		case aStar:
			b.WriteByte('*')
		case aOne:
			b.WriteByte('?')
		case aDash:
			b.WriteString("[-/]")
		case aPH:
			b.WriteString("%" + a.s + "%")
		}
	}
	return b.String()
}

// foldRune maps a rune to the representative of its simple case folding
// orbit, so two strings are equal under Unicode simple case folding exactly
// when their folded forms are equal. Folding is rune by rune (never
// context-dependent), which keeps substring relations intact: if a is in b,
// fold(a) is in fold(b) — the prefilter relies on that.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	if r < rune(len(foldTable)) {
		return rune(foldTable[r])
	}
	return foldRuneSlow(r)
}

// foldTable caches foldRune for the two-byte UTF-8 range (Latin, Greek,
// Cyrillic, ...), the non-ASCII text most often seen in logs.
var foldTable = func() (t [0x800]uint16) {
	for r := range t {
		t[r] = uint16(foldRuneSlow(rune(r)))
	}
	return t
}()

func foldRuneSlow(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < m {
			m = f
		}
	}
	return unicode.ToLower(m)
}

// needsFold reports whether s changes under folding, which lets most
// values (already lowercase ASCII) skip the copy.
func needsFold(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return true
		}
	}
	return false
}

// appendFold appends the folded form of s to dst. Invalid UTF-8 bytes are
// kept as they are.
func appendFold(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			dst = append(dst, c)
			i++
			continue
		}
		dst = utf8.AppendRune(dst, foldRune(r))
		i += w
	}
	return dst
}

// fold returns the folded form of s (allocating; used at compile time).
func fold(s string) string {
	if !needsFold(s) {
		return s
	}
	return string(appendFold(nil, s))
}

// pkind is the shape a compiled pattern reduced to.
type pkind uint8

const (
	pExact pkind = iota
	pPrefix
	pSuffix
	pContains
	pAny // "*": any string
	pGlob
)

// pattern is a compiled Sigma string: the common shapes are plain string
// tests on pre-folded text; only inner wildcards (and windash positions)
// need the segment matcher.
type pattern struct {
	kind  pkind
	cased bool
	lit   string    // pExact..pContains: the folded (or, cased, raw) literal
	segs  []segment // pGlob: the pieces between stars
	start bool      // pGlob: the first segment is anchored at the start
	end   bool      // pGlob: the last segment is anchored at the end
}

// segment is a run without stars: literals, ? and dash positions. Its
// length in runes is fixed, which lets an end-anchored segment be matched
// from a known start.
type segment struct {
	atoms []atom
	runes int
	lit   string // set when the segment is one literal
}

func compilePattern(s sstr, cased bool) pattern {
	p := pattern{cased: cased}
	norm := make(sstr, 0, len(s))
	for _, a := range s {
		if a.k == aLit && !cased {
			a.s = fold(a.s)
		}
		norm = norm.add(a)
	}
	s = norm
	n := len(s)
	simple := func(a atom) bool { return a.k == aLit }
	switch {
	case n == 0:
		p.kind, p.lit = pExact, ""
		return p
	case n == 1 && s[0].k == aStar:
		p.kind = pAny
		return p
	case n == 1 && simple(s[0]):
		p.kind, p.lit = pExact, s[0].s
		return p
	case n == 2 && simple(s[0]) && s[1].k == aStar:
		p.kind, p.lit = pPrefix, s[0].s
		return p
	case n == 2 && s[0].k == aStar && simple(s[1]):
		p.kind, p.lit = pSuffix, s[1].s
		return p
	case n == 3 && s[0].k == aStar && simple(s[1]) && s[2].k == aStar:
		p.kind, p.lit = pContains, s[1].s
		return p
	}
	p.kind = pGlob
	p.start = s[0].k != aStar
	p.end = s[n-1].k != aStar
	var cur segment
	flush := func() {
		if len(cur.atoms) > 0 {
			if len(cur.atoms) == 1 && cur.atoms[0].k == aLit {
				cur.lit = cur.atoms[0].s
			}
			p.segs = append(p.segs, cur)
		}
		cur = segment{}
	}
	for _, a := range s {
		switch a.k {
		case aStar:
			flush()
		case aLit:
			cur.atoms = append(cur.atoms, a)
			cur.runes += utf8.RuneCountInString(a.s)
		default:
			cur.atoms = append(cur.atoms, a)
			cur.runes++
		}
	}
	flush()
	return p
}

// match tests s, which must be folded unless the pattern is cased.
func (p *pattern) match(s string) bool {
	switch p.kind {
	case pExact:
		return s == p.lit
	case pPrefix:
		return strings.HasPrefix(s, p.lit)
	case pSuffix:
		return strings.HasSuffix(s, p.lit)
	case pContains:
		return strings.Contains(s, p.lit)
	case pAny:
		return true
	}
	return p.glob(s)
}

func (p *pattern) glob(s string) bool {
	segs := p.segs
	pos := 0
	if len(segs) == 0 {
		return true // only stars
	}
	if p.start {
		end, ok := segs[0].matchAt(s, 0)
		if !ok {
			return false
		}
		if len(segs) == 1 && p.end {
			return end == len(s)
		}
		pos = end
		segs = segs[1:]
	}
	var last *segment
	if p.end && len(segs) > 0 {
		last = &segs[len(segs)-1]
		segs = segs[:len(segs)-1]
	}
	for i := range segs {
		_, end, ok := segs[i].find(s, pos)
		if !ok {
			return false
		}
		pos = end
	}
	if last != nil {
		st, ok := last.startFromEnd(s)
		if !ok || st < pos {
			return false
		}
		end, ok := last.matchAt(s, st)
		return ok && end == len(s)
	}
	return true
}

// matchAt matches the segment at byte offset i and returns where it ends.
func (g *segment) matchAt(s string, i int) (int, bool) {
	if g.lit != "" {
		if strings.HasPrefix(s[i:], g.lit) {
			return i + len(g.lit), true
		}
		return 0, false
	}
	for _, a := range g.atoms {
		switch a.k {
		case aLit:
			if !strings.HasPrefix(s[i:], a.s) {
				return 0, false
			}
			i += len(a.s)
		case aOne:
			if i >= len(s) {
				return 0, false
			}
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
		case aDash:
			if i >= len(s) {
				return 0, false
			}
			r, w := utf8.DecodeRuneInString(s[i:])
			if !isDash(r) {
				return 0, false
			}
			i += w
		default:
			return 0, false
		}
	}
	return i, true
}

func isDash(r rune) bool {
	switch r {
	case '-', '/', '–', '—', '―':
		return true
	}
	return false
}

// find returns the leftmost match of the segment at or after pos. Leftmost
// is always right for star-separated segments: a later start can only
// leave less room for what follows.
func (g *segment) find(s string, pos int) (int, int, bool) {
	if g.lit != "" {
		j := strings.Index(s[pos:], g.lit)
		if j < 0 {
			return 0, 0, false
		}
		return pos + j, pos + j + len(g.lit), true
	}
	// Jump between occurrences of the first literal when there is one.
	var first string
	if g.atoms[0].k == aLit {
		first = g.atoms[0].s
	}
	for i := pos; i <= len(s); {
		if first != "" {
			j := strings.Index(s[i:], first)
			if j < 0 {
				return 0, 0, false
			}
			i += j
		}
		if end, ok := g.matchAt(s, i); ok {
			return i, end, true
		}
		if i >= len(s) {
			break
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return 0, 0, false
}

// startFromEnd returns the offset a segment ending at len(s) starts at.
func (g *segment) startFromEnd(s string) (int, bool) {
	i := len(s)
	for k := len(g.atoms) - 1; k >= 0; k-- {
		a := g.atoms[k]
		if a.k == aLit {
			if len(a.s) > i {
				return 0, false
			}
			i -= len(a.s)
			continue
		}
		if i == 0 {
			return 0, false
		}
		_, w := utf8.DecodeLastRuneInString(s[:i])
		i -= w
	}
	return i, true
}
