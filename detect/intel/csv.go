package intel

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CSVOptions configure one CSV or line-list feed (spec §6).
type CSVOptions struct {
	Feed string
	// Format is "lines" (one value per line), "csv", or "" for csv when
	// Header, Column or Delimiter is set and lines otherwise.
	Format string
	// Kind fixes the kind of every value; "" detects it per value.
	Kind Kind
	// Match is the match mode for the feed's domains (exact or subdomains),
	// URLs (exact or prefix) or user agents (exact or contains); "" is
	// exact, and values of other kinds are always exact. "*.example.org" is always
	// read as example.org with subdomains.
	Match MatchMode
	// Column names the value column: a header name (case-insensitive) or a
	// 0-based index. Default: the first column.
	Column string
	// Header says the first data line is a header. A "#"-commented line
	// holding Column is recognized as a header too (abuse.ch style).
	Header bool
	// Delimiter defaults to ','.
	Delimiter rune
	// Comment starts a comment line (default "#").
	Comment string
	// LabelColumns name columns whose values become labels (comma-separated
	// values are split).
	LabelColumns []string
	// Confidence is the feed's confidence (0: DefaultConfidence).
	Confidence int
	// TTL overrides the per-kind default TTL when > 0.
	TTL time.Duration
	// TLP of every value.
	TLP TLP
	// Now is the import time (zero: time.Now()).
	Now time.Time
	// AllowPrivate and AllowSingleLabel: see Options.
	AllowPrivate     bool
	AllowSingleLabel bool
	// HostLevel: the feed's URLs condemn their whole host, so each URL's
	// host is indexed as a domain too (spec §7.1).
	HostLevel bool
	// MaxLineBytes skips longer lines (default 64 KiB).
	MaxLineBytes int
}

// ImportCSV reads a CSV file or a one-value-per-line list. The error is
// non-nil only for an unusable configuration or a read error; bad lines
// are reported in Result.Problems with their line numbers.
func ImportCSV(r io.Reader, co CSVOptions) (Result, error) {
	var res Result
	o := Options{Feed: co.Feed, Now: co.Now, TTL: co.TTL, Confidence: co.Confidence, TLP: co.TLP,
		AllowPrivate: co.AllowPrivate, AllowSingleLabel: co.AllowSingleLabel}
	now := o.now()
	o.Now = now
	if co.Kind != "" {
		if _, err := ParseKind(string(co.Kind)); err != nil {
			return res, err
		}
		if co.Kind == KindPattern {
			return res, errors.New("csv: kind pattern cannot be read from lists")
		}
	}
	switch co.Match {
	case "", MatchExact, MatchSubdomains, MatchPrefix, MatchContains:
	default:
		return res, fmt.Errorf("csv: unknown match mode %q", co.Match)
	}
	format := strings.ToLower(co.Format)
	if format == "" {
		format = "lines"
		if co.Header || co.Column != "" || co.Delimiter != 0 {
			format = "csv"
		}
	}
	if format != "lines" && format != "csv" {
		return res, fmt.Errorf("csv: unknown format %q (lines or csv)", co.Format)
	}
	delim := co.Delimiter
	if delim == 0 {
		delim = ','
	}
	if delim == '"' || delim == '\r' || delim == '\n' || !utf8.ValidRune(delim) || delim == utf8.RuneError {
		return res, fmt.Errorf("csv: invalid delimiter %q", delim)
	}
	comment := co.Comment
	if comment == "" {
		comment = "#"
	}
	maxLine := co.MaxLineBytes
	if maxLine <= 0 {
		maxLine = 64 << 10
	}

	imp := &csvImport{co: &co, o: &o, res: &res, now: now, seen: map[string]int{}, col: -1}
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	tooLong := false
	lineNo := 0
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, fmt.Errorf("csv: line %d: %w", lineNo+1, err)
		}
		if !tooLong {
			if len(line)+len(chunk) <= maxLine {
				line = append(line, chunk...)
			} else {
				tooLong = true
			}
		}
		if isPrefix {
			continue
		}
		lineNo++
		if tooLong {
			res.problem(Problem{Feed: co.Feed, Where: fmt.Sprintf("line %d", lineNo), Line: lineNo,
				Msg: fmt.Sprintf("line longer than %d bytes", maxLine)})
		} else {
			text := string(line)
			if lineNo == 1 {
				text = strings.TrimPrefix(text, "\uFEFF")
			}
			if format == "csv" {
				if err := imp.csvLine(text, lineNo, delim, comment); err != nil {
					return res, err
				}
			} else {
				imp.listLine(text, lineNo, comment)
			}
		}
		line, tooLong = line[:0], false
	}
	return res, nil
}

type csvImport struct {
	co      *CSVOptions
	o       *Options
	res     *Result
	now     time.Time
	seen    map[string]int // Key -> index in res.Indicators
	header  []string
	col     int
	labels  []int
	started bool // a data line has been read
}

func (imp *csvImport) problem(line int, f string, a ...any) {
	imp.res.problem(Problem{Feed: imp.co.Feed, Where: fmt.Sprintf("line %d", line), Line: line, Msg: fmt.Sprintf(f, a...)})
}

// listLine reads "value", "value ; comment", "value # comment" and hosts
// file lines ("0.0.0.0 evil.example").
func (imp *csvImport) listLine(text string, lineNo int, comment string) {
	text = strings.TrimSpace(text)
	if text == "" || strings.HasPrefix(text, comment) {
		return
	}
	if i := strings.Index(text, " "+comment); i >= 0 {
		text = strings.TrimSpace(text[:i])
	}
	ref := ""
	if i := strings.IndexByte(text, ';'); i >= 0 && !strings.Contains(text[:i], "://") {
		text, ref = strings.TrimSpace(text[:i]), strings.TrimSpace(text[i+1:])
	}
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return
	}
	value := fields[0]
	if len(fields) > 1 && (value == "0.0.0.0" || value == "127.0.0.1" || value == "::" || value == "::1") {
		value = fields[1] // hosts file
	}
	if !strings.Contains(value, "://") {
		if i := strings.IndexAny(value, ",\t"); i >= 0 {
			value = value[:i]
		}
	}
	imp.value(value, lineNo, nil, ref)
}

func (imp *csvImport) csvLine(text string, lineNo int, delim rune, comment string) error {
	trimmed := strings.TrimSpace(text)
	if trimmed == "" {
		return nil
	}
	if strings.HasPrefix(trimmed, comment) {
		// "# id,dateadded,url,..." before the data is a header.
		if imp.header == nil && !imp.started && imp.co.Column != "" {
			if rec, err := parseCSVRecord(strings.TrimSpace(trimmed[len(comment):]), delim); err == nil && findColumn(rec, imp.co.Column) >= 0 {
				return imp.setHeader(rec)
			}
		}
		return nil
	}
	rec, err := parseCSVRecord(text, delim)
	if err != nil {
		imp.problem(lineNo, "bad CSV: %v", err)
		return nil
	}
	if imp.co.Header && imp.header == nil && !imp.started {
		return imp.setHeader(rec)
	}
	if !imp.started {
		imp.started = true
		if imp.col < 0 {
			if err := imp.setHeader(nil); err != nil {
				return err
			}
		}
	}
	if imp.col >= len(rec) {
		imp.problem(lineNo, "no column %d (the line has %d)", imp.col+1, len(rec))
		return nil
	}
	var labels []string
	for _, c := range imp.labels {
		if c < len(rec) {
			for _, l := range strings.Split(rec[c], ",") {
				labels = addLabel(labels, l)
			}
		}
	}
	imp.value(rec[imp.col], lineNo, labels, "")
	return nil
}

func parseCSVRecord(line string, delim rune) ([]string, error) {
	cr := csv.NewReader(strings.NewReader(line))
	cr.Comma = delim
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	return cr.Read()
}

func findColumn(header []string, name string) int {
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(h), strings.TrimSpace(name)) {
			return i
		}
	}
	return -1
}

// setHeader resolves the value and label columns (header nil: by index).
func (imp *csvImport) setHeader(rec []string) error {
	imp.header = rec
	imp.col = -1
	if imp.co.Column == "" {
		imp.col = 0
	} else if i := findColumn(rec, imp.co.Column); i >= 0 {
		imp.col = i
	} else if n, err := strconv.Atoi(imp.co.Column); err == nil && n >= 0 && n < 1024 {
		imp.col = n
	} else {
		return fmt.Errorf("csv: value column %q is not in the header %q", imp.co.Column, strings.Join(rec, ","))
	}
	imp.labels = imp.labels[:0]
	for _, l := range imp.co.LabelColumns {
		if i := findColumn(rec, l); i >= 0 {
			imp.labels = append(imp.labels, i)
		} else if n, err := strconv.Atoi(l); err == nil && n >= 0 && n < 1024 {
			imp.labels = append(imp.labels, n)
		} else {
			return fmt.Errorf("csv: label column %q is not in the header", l)
		}
	}
	return nil
}

func (imp *csvImport) value(raw string, lineNo int, labels []string, ref string) {
	imp.res.Items++
	v := Refang(strings.TrimSpace(raw))
	if v == "" {
		imp.problem(lineNo, "empty value")
		return
	}
	mode := imp.co.Match
	if mode == "" {
		mode = MatchExact
	}
	kind := imp.co.Kind
	if strings.HasPrefix(v, "*.") && (kind == "" || kind == KindDomain) {
		v, kind, mode = v[2:], KindDomain, MatchSubdomains
	}
	var (
		k   Kind
		nv  string
		err error
	)
	if kind == "" {
		k, nv, err = detect(v, imp.co.AllowSingleLabel)
	} else {
		k, nv, err = normalize(kind, v, imp.co.AllowSingleLabel)
	}
	if err != nil {
		imp.problem(lineNo, "%v", err)
		return
	}
	switch {
	case mode == MatchSubdomains && k != KindDomain,
		mode == MatchPrefix && k != KindURL,
		mode == MatchContains && k != KindUserAgent:
		mode = MatchExact
	}
	if mode == MatchSubdomains && isPublicSuffix(nv) {
		imp.problem(lineNo, "%s is a public suffix: refusing to match all names below it", nv)
		return
	}
	src := Source{Feed: imp.co.Feed, Ref: fmt.Sprintf("line %d", lineNo), Confidence: imp.o.confidence(),
		Modified: imp.now, Active: true, Labels: labels}
	if ref != "" {
		setContext(&src, "comment", clip(ref))
	}
	imp.add(Indicator{Kind: k, Value: nv, Match: mode, Sources: []Source{src}}, lineNo)
	if imp.co.HostLevel && k == KindURL {
		if host, ok := urlHost(nv); ok {
			hk, hv, err := Detect(host)
			if err == nil && (hk == KindDomain || isIPKind(hk)) {
				s := src
				s.Labels = append([]string(nil), labels...)
				setContext(&s, "from_url", clip(nv))
				imp.add(Indicator{Kind: hk, Value: hv, Match: MatchExact, Sources: []Source{s}}, lineNo)
			}
		}
	}
}

func (imp *csvImport) add(in Indicator, lineNo int) {
	key := in.Key()
	if i, ok := imp.seen[key]; ok {
		s := &imp.res.Indicators[i].Sources[0]
		for _, l := range in.Sources[0].Labels {
			s.Labels = addLabel(s.Labels, l)
		}
		return
	}
	if msg := imp.o.finish(&in, imp.now); msg != "" {
		imp.res.problem(Problem{Feed: imp.co.Feed, Severity: SeverityWarning, Where: fmt.Sprintf("line %d", lineNo), Line: lineNo, Msg: msg})
	}
	imp.seen[key] = len(imp.res.Indicators)
	imp.res.Indicators = append(imp.res.Indicators, in)
}

// urlHost returns the host of a normalized URL.
func urlHost(u string) (string, bool) {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "", false
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i > 0 {
			return rest[1:i], true
		}
		return "", false
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	return rest, rest != ""
}
