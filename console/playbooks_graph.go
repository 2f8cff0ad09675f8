package console

import (
	"fmt"
	"sort"
	"strings"

	"github.com/riposte-soar/riposte/playbook"
)

// pbGraph is a playbook's workflow laid out top-down for an SVG drawn by
// the page template (so every label goes through html/template's
// escaping). It is built from the parsed model, so our YAML and CACAO
// draw alike.
type pbGraph struct {
	Name          string
	Width, Height int
	Nodes         []gNode // in reading order (the step list beside the graph)
	Edges         []gEdge
}

// gNode is one step: its box and what the text list says of it.
type gNode struct {
	Index      int // position in reading order; names the list item
	ID         string
	Name       string // as the author wrote it, else the id
	Label      string // Name, shortened to fit the box
	Type       string
	Short      string // the type in a word, for the box
	Detail     string // connector.operation, condition, switch variable…
	DetailCut  string
	X, Y, W, H int
	TX, TY     int // text anchor
	Start      bool
	Exception  bool
	Out        []gOut
}

// gOut is one way out of a step, for the text list.
type gOut struct {
	Label  string
	ToName string
	ToIdx  int
}

// gEdge is one arrow: D is an SVG path built from numbers only.
type gEdge struct {
	From, To string
	Label    string
	Kind     string // next, branch, failure, back
	D        string
	LX, LY   int
}

const (
	gNodeW  = 200
	gNodeH  = 48
	gGapX   = 28
	gGapY   = 60
	gMargin = 24
	gBack   = 56 // room on either side for arrows that loop back up or skip layers
)

// stepEdges lists a step's ways out with the words an author would use.
func stepEdges(s *playbook.Step) []gOut {
	var out []gOut
	add := func(label, to string) {
		if to != "" {
			out = append(out, gOut{Label: label, ToName: to})
		}
	}
	switch s.Type {
	case playbook.StepIfCondition:
		add("then", s.OnTrue)
		add("else", s.OnFalse)
	case playbook.StepWhileCondition:
		add("do", s.OnTrue)
	case playbook.StepParallel:
		for i, n := range s.NextSteps {
			add(fmt.Sprintf("branch %d", i+1), n)
		}
	case playbook.StepSwitchCondition:
		keys := make([]string, 0, len(s.Cases))
		for k := range s.Cases {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if (keys[i] == "default") != (keys[j] == "default") {
				return keys[j] == "default"
			}
			return keys[i] < keys[j]
		})
		for _, k := range keys {
			if k == "default" {
				add("default", s.Cases[k])
			} else {
				add("case "+k, s.Cases[k])
			}
		}
	}
	add("next", s.OnCompletion)
	add("on success", s.OnSuccess)
	add("on failure", s.OnFailure)
	return out
}

func branchLabel(l string) bool {
	return l == "then" || l == "else" || l == "do" || strings.HasPrefix(l, "branch ") || strings.HasPrefix(l, "case ") || l == "default"
}

func stepDetail(s *playbook.Step) string {
	switch s.Type {
	case playbook.StepIfCondition, playbook.StepWhileCondition:
		return s.Condition
	case playbook.StepSwitchCondition:
		return s.Switch
	case playbook.StepPlaybookAction:
		return s.PlaybookID
	case playbook.StepAction:
		if s.Approval != nil {
			return "approval"
		}
		var parts []string
		for _, c := range s.Commands {
			if c.Connector != "" {
				parts = append(parts, c.Connector+"."+c.Operation)
			} else {
				parts = append(parts, c.Type)
			}
		}
		return strings.Join(parts, ", ")
	}
	return ""
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// layoutPlaybook places the steps in layers from the start step down. A
// step sits below every step that leads to it; a block's continuation
// (the next of an if, while, switch or parallel) sits below everything in
// its branches, as the block runs them first. Arrows back up (a while
// body returning to its loop) go round on the right.
func layoutPlaybook(p *playbook.Playbook) pbGraph {
	g := pbGraph{Name: p.Name}
	order := p.StepOrder()
	idx := make(map[string]int, len(order))
	for i, id := range order {
		idx[id] = i
	}
	outs := make([][]gOut, len(order))
	for i, id := range order {
		for _, o := range stepEdges(p.Steps[id]) {
			if j, ok := idx[o.ToName]; ok {
				o.ToIdx = j
				outs[i] = append(outs[i], o)
			}
		}
	}
	// Back edges: those that reach a step on the depth-first path.
	back := map[[2]int]bool{}
	state := make([]int, len(order)) // 0 unseen, 1 on the path, 2 done
	var dfs func(int)
	dfs = func(u int) {
		state[u] = 1
		for _, o := range outs[u] {
			switch state[o.ToIdx] {
			case 0:
				dfs(o.ToIdx)
			case 1:
				back[[2]int{u, o.ToIdx}] = true
			}
		}
		state[u] = 2
	}
	for i := range order {
		if state[i] == 0 {
			dfs(i)
		}
	}
	// Layers by relaxation: at most one pass per step, as forward edges
	// form a DAG.
	layer := make([]int, len(order))
	for range len(order) + 1 {
		changed := false
		raise := func(v, l int) {
			if layer[v] < l {
				layer[v], changed = l, true
			}
		}
		for u := range order {
			var cont []int
			deepest := -1
			for _, o := range outs[u] {
				if back[[2]int{u, o.ToIdx}] {
					continue
				}
				raise(o.ToIdx, layer[u]+1)
				if branchLabel(o.Label) {
					deepest = max(deepest, regionDepth(o.ToIdx, u, outs, back, layer))
				} else {
					cont = append(cont, o.ToIdx)
				}
			}
			for _, v := range cont {
				if deepest >= 0 && !inRegion(v, u, outs, back) {
					raise(v, deepest+1)
				}
			}
		}
		if !changed {
			break
		}
	}
	byLayer := map[int][]int{}
	maxLayer, widest := 0, 0
	for i := range order {
		byLayer[layer[i]] = append(byLayer[layer[i]], i)
		maxLayer = max(maxLayer, layer[i])
	}
	for l := 0; l <= maxLayer; l++ {
		widest = max(widest, len(byLayer[l]))
	}
	g.Width = 2*gMargin + widest*gNodeW + max(widest-1, 0)*gGapX + 2*gBack
	g.Height = 2*gMargin + (maxLayer+1)*gNodeH + maxLayer*gGapY
	g.Nodes = make([]gNode, len(order))
	pos := make([]float64, len(order)) // column, for ordering children under parents
	for l := 0; l <= maxLayer; l++ {
		row := byLayer[l]
		// Under their parents: by the mean column of the steps leading
		// here from above, then in reading order.
		key := make(map[int]float64, len(row))
		for _, v := range row {
			sum, n := 0.0, 0
			for u := range order {
				if layer[u] < l {
					for _, o := range outs[u] {
						if o.ToIdx == v && !back[[2]int{u, v}] {
							sum, n = sum+pos[u], n+1
						}
					}
				}
			}
			key[v] = float64(v) / 1e6
			if n > 0 {
				key[v] += sum / float64(n)
			}
		}
		sort.SliceStable(row, func(a, b int) bool { return key[row[a]] < key[row[b]] })
		span := len(row)*gNodeW + (len(row)-1)*gGapX
		x0 := gBack + gMargin + (g.Width-2*gBack-2*gMargin-span)/2
		for k, v := range row {
			pos[v] = float64(k) - float64(len(row)-1)/2
			g.Nodes[v].X = x0 + k*(gNodeW+gGapX)
			g.Nodes[v].Y = gMargin + l*(gNodeH+gGapY)
		}
	}
	for i, id := range order {
		s := p.Steps[id]
		n := &g.Nodes[i]
		n.Index, n.ID, n.Type = i, id, string(s.Type)
		n.Name = g.stepName(p, id)
		n.Label = cut(n.Name, 26)
		n.Detail = stepDetail(s)
		n.Short = strings.TrimSuffix(strings.TrimSuffix(n.Type, "-condition"), "-action")
		n.DetailCut = cut(n.Detail, 28-len(n.Short))
		n.W, n.H = gNodeW, gNodeH
		n.TX, n.TY = n.X+gNodeW/2, n.Y+20
		n.Start, n.Exception = id == p.WorkflowStart, id == p.WorkflowException
		for _, o := range outs[i] {
			o.ToName = g.stepName(p, order[o.ToIdx])
			n.Out = append(n.Out, o)
		}
	}
	skips := 0
	for u := range order {
		for _, o := range outs[u] {
			a, b := g.Nodes[u], g.Nodes[o.ToIdx]
			e := gEdge{From: order[u], To: order[o.ToIdx], Label: o.Label, Kind: "next"}
			switch {
			case branchLabel(o.Label):
				e.Kind = "branch"
			case o.Label == "on failure":
				e.Kind = "failure"
			}
			if back[[2]int{u, o.ToIdx}] || b.Y <= a.Y {
				// Round the right side, back up to the target's side.
				e.Kind = "back"
				x1, y1 := a.X+a.W, a.Y+a.H/2
				x2, y2 := b.X+b.W, b.Y+b.H/2
				right := max(x1, x2)
				for _, n := range g.Nodes {
					if n.Y+n.H > min(y1, y2) && n.Y < max(y1, y2) {
						right = max(right, n.X+n.W)
					}
				}
				bend := min(right+18+10*(skips%4), g.Width-4)
				skips++
				e.D = laneTo(x1, y1, bend, x2, y2)
				e.LX, e.LY = bend-4, (y1+y2)/2
			} else if b.Y-a.Y > gNodeH+gGapY {
				// Past a layer: round the left side, so the arrow does not
				// run behind the steps in between and seem to end there.
				x1, y1 := a.X, a.Y+a.H/2
				x2, y2 := b.X, b.Y+b.H/2
				left := min(x1, x2)
				for _, n := range g.Nodes {
					if n.Y > a.Y && n.Y < b.Y {
						left = min(left, n.X)
					}
				}
				lane := max(left-18-10*(skips%4), 4)
				skips++
				e.D = laneTo(x1, y1, lane, x2, y2)
				e.LX, e.LY = lane+4, (y1+y2)/2
			} else {
				x1, y1 := a.X+a.W/2, a.Y+a.H
				x2, y2 := b.X+b.W/2, b.Y
				my := (y1 + y2) / 2
				e.D = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, x1, my, x2, my, x2, y2)
				e.LX, e.LY = (x1+x2)/2+4, my+4
			}
			g.Edges = append(g.Edges, e)
		}
	}
	return g
}

// stepName is what a person calls a step: the name they wrote, "start"
// for the start step the YAML parser adds, else the CACAO id.
func (g *pbGraph) stepName(p *playbook.Playbook, id string) string {
	s := p.Steps[id]
	switch {
	case s == nil:
		return id
	case s.Name != "":
		return s.Name
	case s.Type == playbook.StepStart && id == p.WorkflowStart:
		return "start"
	}
	return id
}

// region lists what a branch entered at entry can reach without passing
// through its owner or going back up.
func region(entry, owner int, outs [][]gOut, back map[[2]int]bool) map[int]bool {
	seen := map[int]bool{}
	stack := []int{entry}
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if u == owner || seen[u] {
			continue
		}
		seen[u] = true
		for _, o := range outs[u] {
			if !back[[2]int{u, o.ToIdx}] {
				stack = append(stack, o.ToIdx)
			}
		}
	}
	return seen
}

func regionDepth(entry, owner int, outs [][]gOut, back map[[2]int]bool, layer []int) int {
	d := -1
	for v := range region(entry, owner, outs, back) {
		d = max(d, layer[v])
	}
	return d
}

// inRegion: a continuation its own branches reach (a malformed block) is
// not pushed below itself.
func inRegion(v, owner int, outs [][]gOut, back map[[2]int]bool) bool {
	for _, o := range outs[owner] {
		if branchLabel(o.Label) && !back[[2]int{owner, o.ToIdx}] && region(o.ToIdx, owner, outs, back)[v] {
			return true
		}
	}
	return false
}

// laneTo is an arrow that leaves (x1,y1) sideways to the vertical lane at
// x, runs along it and comes in sideways to (x2,y2), with rounded corners:
// it stays clear of the steps it passes.
func laneTo(x1, y1, x, x2, y2 int) string {
	const r = 8
	sx, sy := 1, 1
	if x < x1 {
		sx = -1
	}
	if y2 < y1 {
		sy = -1
	}
	ex := 1
	if x2 < x {
		ex = -1
	}
	return fmt.Sprintf("M%d %d H%d Q%d %d %d %d V%d Q%d %d %d %d H%d",
		x1, y1, x-sx*r, x, y1, x, y1+sy*r, y2-sy*r, x, y2, x+ex*r, y2, x2)
}
