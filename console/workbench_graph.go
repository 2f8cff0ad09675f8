package console

import (
	"sort"
	"strconv"

	"github.com/riposte-soar/riposte/playbook"
)

// runGraph is a playbook run laid out for SVG: the playbook's steps in
// layers from its start, each coloured by the state of its latest
// instance in the run. The template draws it (html/template escapes every
// label in the SVG as in the rest of the page).
type runGraph struct {
	W, H  int
	Nodes []graphNode
	Edges []graphEdge
	// Summary is the graph said in words, for screen readers.
	Summary string
}

type graphNode struct {
	X, Y  int
	Label string // shortened for the box
	Full  string // the whole name, in <title>
	Type  string
	State string // pending, running, waiting, done, failed, cancelled
}

type graphEdge struct {
	X1, Y1, X2, Y2 int
	LX, LY         int // where the branch's name goes
	Label          string
}

const (
	nodeW, nodeH = 150, 36
	gapX, gapY   = 24, 34
	graphPad     = 8
)

// drawRun lays out a run. Without the playbook (its version is gone) the
// steps the run entered are drawn in order.
func drawRun(pb *playbook.Playbook, steps []stepView) runGraph {
	state := map[string]string{}
	for _, s := range steps {
		state[s.Step] = s.State // the latest instance wins (loops)
	}
	var layers [][]string
	type edge struct{ from, to, label string }
	var edges []edge
	names := map[string]string{}
	types := map[string]string{}
	if pb != nil && pb.Steps[pb.WorkflowStart] != nil {
		depth := map[string]int{pb.WorkflowStart: 0}
		queue := []string{pb.WorkflowStart}
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			st := pb.Steps[id]
			names[id], types[id] = st.Name, string(st.Type)
			for len(layers) <= depth[id] {
				layers = append(layers, nil)
			}
			layers[depth[id]] = append(layers[depth[id]], id)
			for _, n := range successors(st) {
				if pb.Steps[n.to] == nil {
					continue
				}
				edges = append(edges, edge{id, n.to, n.label})
				if _, seen := depth[n.to]; !seen {
					depth[n.to] = depth[id] + 1
					queue = append(queue, n.to)
				}
			}
		}
	} else {
		seen := map[string]bool{}
		prev := ""
		for _, s := range steps {
			if seen[s.Step] {
				continue
			}
			seen[s.Step] = true
			names[s.Step], types[s.Step] = s.Name, s.Type
			layers = append(layers, []string{s.Step})
			if prev != "" {
				edges = append(edges, edge{prev, s.Step, ""})
			}
			prev = s.Step
		}
	}
	g := runGraph{}
	pos := map[string][2]int{}
	widest := 0
	for _, l := range layers {
		widest = max(widest, len(l))
	}
	g.W = graphPad*2 + widest*nodeW + max(widest-1, 0)*gapX
	g.H = graphPad*2 + len(layers)*nodeH + max(len(layers)-1, 0)*gapY
	counts := map[string]int{}
	for li, l := range layers {
		rowW := len(l)*nodeW + (len(l)-1)*gapX
		x0 := (g.W - rowW) / 2
		for i, id := range l {
			x, y := x0+i*(nodeW+gapX), graphPad+li*(nodeH+gapY)
			pos[id] = [2]int{x, y}
			full := names[id]
			if full == "" {
				full = types[id]
			}
			st := state[id]
			if st == "" {
				st = "pending"
			}
			counts[st]++
			g.Nodes = append(g.Nodes, graphNode{X: x, Y: y, Label: shorten(full, 20), Full: full, Type: types[id], State: st})
		}
	}
	for _, e := range edges {
		a, b := pos[e.from], pos[e.to]
		ge := graphEdge{X1: a[0] + nodeW/2, Y1: a[1] + nodeH, X2: b[0] + nodeW/2, Y2: b[1], Label: shorten(e.label, 16)}
		ge.LX, ge.LY = (ge.X1+ge.X2)/2+4, (ge.Y1+ge.Y2)/2+4
		g.Edges = append(g.Edges, ge)
	}
	g.Summary = summary(len(g.Nodes), counts)
	return g
}

type succ struct{ to, label string }

// successors are the steps a step can lead to, with the branch's name.
func successors(st *playbook.Step) []succ {
	var out []succ
	add := func(to, label string) {
		if to != "" {
			out = append(out, succ{to, label})
		}
	}
	add(st.OnTrue, "true")
	add(st.OnFalse, "false")
	for _, n := range st.NextSteps {
		add(n, "")
	}
	keys := make([]string, 0, len(st.Cases))
	for k := range st.Cases {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(st.Cases[k], k)
	}
	add(st.OnCompletion, "")
	add(st.OnSuccess, "")
	add(st.OnFailure, "on failure")
	return out
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func summary(n int, counts map[string]int) string {
	s := "Run graph of " + strconv.Itoa(n) + " steps:"
	for _, k := range []string{"done", "running", "waiting", "failed", "cancelled", "pending"} {
		if counts[k] > 0 {
			s += " " + strconv.Itoa(counts[k]) + " " + k + ","
		}
	}
	return s[:len(s)-1]
}
