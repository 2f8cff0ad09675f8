package console

import (
	"math"
	"strconv"
	"time"
)

// Charts are drawn here as numbers for an SVG template (part_ops_charts):
// no chart library, no script, and every text goes through html/template.

// opsLineChart is one series over days.
type opsLineChart struct {
	ID, Title, Desc string
	W, H            int
	X0, Y0, X1, Y1  float64 // the plot area
	// Lines are polylines' points attributes: a day without a value
	// breaks the line rather than drawing it to zero.
	Lines  []string
	Points []opsPoint
	XTicks []opsTick
	YTicks []opsTick
	// Rows are the data table that stands in for the chart.
	Rows []opsRow
}

type opsPoint struct {
	X, Y       float64
	Label, Val string
}

type opsTick struct {
	Pos   float64
	Label string
}

type opsRow struct{ Label, Val, Count string }

// opsBarChart is counts by category.
type opsBarChart struct {
	ID, Title, Desc string
	W, H            int
	X0, Y0, X1, Y1  float64
	Bars            []opsBar
	YTicks          []opsTick
	Rows            []opsRow
}

type opsBar struct {
	X, Y, W, H float64
	Label      string
	ShowLabel  bool
	Count      int
	Class      string
}

const (
	chartW, chartH = 560, 220
	padL, padR     = 64, 16
	padT, padB     = 12, 36
)

// opsDayValue is one day of a series; ok is false when the day has no
// value (no incident reached that step).
type opsDayValue struct {
	Day   time.Time
	Secs  float64
	Count int
	OK    bool
}

// opsLine draws seconds per day.
func opsLine(id, title, desc string, vals []opsDayValue) opsLineChart {
	c := opsLineChart{ID: id, Title: title, Desc: desc, W: chartW, H: chartH, X0: padL, Y0: padT, X1: chartW - padR, Y1: chartH - padB}
	top := 0.0
	for _, v := range vals {
		if v.OK {
			top = max(top, v.Secs)
		}
	}
	top = niceSeconds(top)
	for i := 0; i <= 4; i++ {
		s := top * float64(i) / 4
		c.YTicks = append(c.YTicks, opsTick{Pos: c.Y1 - (c.Y1-c.Y0)*float64(i)/4, Label: opsSeconds(s)})
	}
	n := len(vals)
	x := func(i int) float64 {
		if n <= 1 {
			return (c.X0 + c.X1) / 2
		}
		return c.X0 + (c.X1-c.X0)*float64(i)/float64(n-1)
	}
	every := max(1, int(math.Ceil(float64(n)/8)))
	line := ""
	for i, v := range vals {
		day := v.Day.UTC().Format(time.DateOnly)
		if i%every == 0 {
			c.XTicks = append(c.XTicks, opsTick{Pos: x(i), Label: v.Day.UTC().Format("01-02")})
		}
		if !v.OK {
			if line != "" {
				c.Lines = append(c.Lines, line)
				line = ""
			}
			c.Rows = append(c.Rows, opsRow{Label: day, Val: "-", Count: "0"})
			continue
		}
		y := c.Y1 - (c.Y1-c.Y0)*v.Secs/top
		p := opsPoint{X: x(i), Y: y, Label: day, Val: opsSeconds(v.Secs)}
		c.Points = append(c.Points, p)
		if line != "" {
			line += " "
		}
		line += f1(p.X) + "," + f1(p.Y)
		c.Rows = append(c.Rows, opsRow{Label: day, Val: p.Val, Count: strconv.Itoa(v.Count)})
	}
	if line != "" {
		c.Lines = append(c.Lines, line)
	}
	return c
}

// opsBars draws counts by label; labelEvery thins the labels of long
// series (every bar keeps its <title>).
func opsBars(id, title, desc string, labels []string, counts []int, class func(string) string, labelEvery int) opsBarChart {
	c := opsBarChart{ID: id, Title: title, Desc: desc, W: chartW, H: chartH, X0: padL, Y0: padT, X1: chartW - padR, Y1: chartH - padB}
	top := 0
	for _, n := range counts {
		top = max(top, n)
	}
	step := niceCount(top)
	for i := 0; i <= 4; i++ {
		c.YTicks = append(c.YTicks, opsTick{Pos: c.Y1 - (c.Y1-c.Y0)*float64(i)/4, Label: strconv.Itoa(step * i)})
	}
	slot := (c.X1 - c.X0) / float64(max(1, len(labels)))
	for i, l := range labels {
		h := (c.Y1 - c.Y0) * float64(counts[i]) / float64(step*4)
		b := opsBar{X: c.X0 + slot*float64(i) + slot*0.15, W: slot * 0.7, Y: c.Y1 - h, H: h, Label: l, Count: counts[i],
			ShowLabel: i%max(1, labelEvery) == 0}
		if class != nil {
			b.Class = class(l)
		}
		c.Bars = append(c.Bars, b)
		c.Rows = append(c.Rows, opsRow{Label: l, Count: strconv.Itoa(counts[i])})
	}
	return c
}

// niceSeconds rounds a top value up to a span people read on an axis.
func niceSeconds(s float64) float64 {
	for _, d := range []time.Duration{4 * time.Second, 20 * time.Second, time.Minute, 4 * time.Minute, 20 * time.Minute, time.Hour,
		4 * time.Hour, 12 * time.Hour, 24 * time.Hour, 4 * 24 * time.Hour, 8 * 24 * time.Hour, 20 * 24 * time.Hour, 40 * 24 * time.Hour} {
		if s <= d.Seconds() {
			return d.Seconds()
		}
	}
	return math.Ceil(s/(40*86400)) * 40 * 86400
}

// niceCount is the tick step of a count axis with four steps: 1, 2, 5,
// 10, 20, 50...
func niceCount(top int) int {
	for mag := 1; ; mag *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*mag*4 >= top {
				return m * mag
			}
		}
	}
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func init() { funcs["opsF"] = f1 }
