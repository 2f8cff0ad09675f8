package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Size is a number of bytes, written in YAML as 65536, 64KiB, 10MB or 2GiB.
type Size int64

var units = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// ParseSize reads a size.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	// NaN fails every comparison, so test for the good range.
	if err != nil || !(n >= 0) {
		return 0, fmt.Errorf("%q is not a size like 65536, 64KiB or 2GiB", s)
	}
	if b := n * float64(mult); !(b < math.MaxInt64) {
		return 0, fmt.Errorf("%q is too large a size", s)
	}
	return Size(n * float64(mult)), nil
}

func (s Size) String() string {
	for _, u := range units[:4] {
		if int64(s) >= u.mult && int64(s)%u.mult == 0 && int64(s)/u.mult < 1024 {
			return fmt.Sprintf("%d%s", int64(s)/u.mult, u.suffix)
		}
	}
	return fmt.Sprintf("%dB", int64(s))
}

// Duration is a time.Duration written as 30s, 15m, 24h.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Raw is a part of the file that its own package decodes (the notify
// section: channel types bring their own options). Line is where it starts,
// so that package's errors can point into the file.
type Raw struct {
	YAML []byte
	Line int
}
