package playbook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Repair is one change RepairCACAO made, or one reason it refused: the JSON
// path of the value in the document it read (or added) and what happened.
type Repair struct {
	Path string `json:"path"`
	Msg  string `json:"message"`
}

func (r Repair) String() string { return r.Path + ": " + r.Msg }

// RepairRefusedError lists the deviations RepairCACAO recognised but could
// not rewrite without guessing what the author meant.
type RepairRefusedError struct{ Reasons []Repair }

func (e *RepairRefusedError) Error() string {
	s := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		s[i] = r.String()
	}
	return "cannot repair safely: " + strings.Join(s, "; ")
}

// RepairCACAO rewrites the deviations other CACAO executors' playbooks
// commonly have into what the specification says, so a migrated playbook
// can load under the same rules as any other (cacao.md §10.3). It is pure:
// it returns the repaired document and each repair with its JSON path, or
// refuses (RepairRefusedError) when a fix would mean guessing.
//
// Repairs, in order:
//   - step, agent and target keys whose prefix is not their type are renamed
//     `<type>--<uuid>` and every reference follows;
//   - a reference to a missing `end--…` step gets that end step;
//   - a workflow_start that is not a start step gets a start step before it
//     (only when the workflow has none);
//   - parallel, if and switch branches that run into the step after the
//     block (goto style) end at their own end steps instead, the block
//     continuing at that step; branches sharing an end step each get one;
//   - an action without agent is bound to the only agent (or else target)
//     whose type fits its commands;
//   - an end step nothing leads to is removed.
//
// A document with nothing to repair is returned byte for byte. Riposte YAML
// is returned as is: its own loader builds what CACAO spells out. The result
// still has to pass validation: repair fixes shape, not meaning.
func RepairCACAO(data []byte) ([]byte, []Repair, error) {
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return data, nil, nil
	}
	root, _, err := parseJSON(data)
	if err != nil {
		return data, nil, &RepairRefusedError{[]Repair{{"$", err.Error()}}}
	}
	r := &repairer{root: root}
	r.run()
	if len(r.refused) > 0 {
		return data, r.done, &RepairRefusedError{Reasons: r.refused}
	}
	if len(r.done) == 0 {
		return data, nil, nil
	}
	var out bytes.Buffer
	if err := json.Indent(&out, root.compactJSON(), "", "  "); err != nil {
		return data, r.done, err
	}
	out.WriteByte('\n')
	return out.Bytes(), r.done, nil
}

type repairer struct {
	root    *node
	wf      *node // the workflow object
	pbID    string
	done    []Repair
	refused []Repair
	index   map[string]*node // step id → step; nil after the workflow changed
}

// addStep adds a step at the end of the workflow.
func (r *repairer) addStep(id string, n *node) {
	r.wf.set(id, n)
	if r.index != nil {
		r.index[id] = n
	}
}

// step returns the workflow step id, or nil.
func (r *repairer) step(id string) *node {
	if r.index == nil {
		r.index = make(map[string]*node, len(r.wf.keys))
		for i, k := range r.wf.keys {
			r.index[k] = r.wf.kids[i]
		}
	}
	return r.index[id]
}

func (r *repairer) did(path, format string, a ...any) {
	r.done = append(r.done, Repair{path, fmt.Sprintf(format, a...)})
}

func (r *repairer) refuse(path, format string, a ...any) {
	r.refused = append(r.refused, Repair{path, fmt.Sprintf(format, a...)})
}

func (r *repairer) run() {
	if r.root.kind != kObject {
		r.refuse("$", "a CACAO playbook is a JSON object, not %s", r.root.kind)
		return
	}
	r.pbID = strOf(r.root.get("id"))
	switch wf := r.root.get("workflow"); {
	case wf == nil:
		r.refuse("$.workflow", "there is no workflow to repair")
		return
	case wf.kind == kArray:
		r.refuse("$.workflow", "a CACAO 1.x workflow list: converting it to a 2.0 workflow object is not a repair (step ids, types and pointers changed between versions)")
		return
	case wf.kind != kObject:
		r.refuse("$.workflow", "workflow is %s, not an object keyed by step id", wf.kind)
		return
	default:
		r.wf = wf
	}
	r.stepKeys()
	r.definitionKeys("agent_definitions", "agent")
	r.definitionKeys("target_definitions", "targets")
	r.missingEnds()
	r.start()
	for _, id := range append([]string(nil), r.wf.keys...) {
		r.block(id)
	}
	r.agents()
	r.orphanEnds()
}

// ---- the document tree ----------------------------------------------------

func strOf(n *node) string {
	if n == nil || n.kind != kString {
		return ""
	}
	return n.s
}

func strNode(s string) *node { return &node{kind: kString, s: s} }

// set replaces key's value in an object node, or appends the key.
func (n *node) set(key string, v *node) {
	for i, k := range n.keys {
		if k == key {
			n.kids[i] = v
			return
		}
	}
	n.keys = append(n.keys, key)
	n.kids = append(n.kids, v)
}

func (n *node) del(key string) {
	for i := 0; i < len(n.keys); i++ {
		if n.keys[i] == key {
			n.keys = append(n.keys[:i], n.keys[i+1:]...)
			n.kids = append(n.kids[:i], n.kids[i+1:]...)
			i--
		}
	}
}

func (n *node) rename(from, to string) {
	for i, k := range n.keys {
		if k == from {
			n.keys[i] = to
		}
	}
}

// insertFirst puts key at the front of an object (a start step reads best
// first).
func (n *node) insertFirst(key string, v *node) {
	n.keys = append([]string{key}, n.keys...)
	n.kids = append([]*node{v}, n.kids...)
}

// ---- references -----------------------------------------------------------

// ref is one place a step id is written: a string node and its JSON path.
type ref struct {
	from string // the step holding it, "" for the playbook
	path string
	n    *node
}

var pointerKeys = []string{"on_completion", "on_success", "on_failure", "on_true", "on_false"}

// stepRefs lists the step ids step id points to, in document order.
func (r *repairer) stepRefs(id string) []ref {
	s := r.step(id)
	if s == nil || s.kind != kObject {
		return nil
	}
	base := joinPath("$.workflow", id)
	var out []ref
	for _, k := range pointerKeys {
		if v := s.get(k); v != nil && v.kind == kString && v.s != "" {
			out = append(out, ref{id, joinPath(base, k), v})
		}
	}
	if ns := s.get("next_steps"); ns != nil && ns.kind == kArray {
		for i, v := range ns.kids {
			if v.kind == kString {
				out = append(out, ref{id, indexPath(joinPath(base, "next_steps"), i), v})
			}
		}
	}
	if cs := s.get("cases"); cs != nil && cs.kind == kObject {
		for i, k := range cs.keys {
			if v := cs.kids[i]; v.kind == kString {
				out = append(out, ref{id, joinPath(joinPath(base, "cases"), k), v})
			}
		}
	}
	return out
}

// allRefs lists every step reference: workflow_start, workflow_exception
// and each step's pointers.
func (r *repairer) allRefs() []ref {
	var out []ref
	for _, k := range []string{"workflow_start", "workflow_exception"} {
		if v := r.root.get(k); v != nil && v.kind == kString && v.s != "" {
			out = append(out, ref{"", "$." + k, v})
		}
	}
	for _, id := range r.wf.keys {
		out = append(out, r.stepRefs(id)...)
	}
	return out
}

// succ lists the steps id points to; the graph walks call it for every
// step, so it builds no paths.
func (r *repairer) succ(id string) []string {
	s := r.step(id)
	if s == nil || s.kind != kObject {
		return nil
	}
	var out []string
	for i, k := range s.keys {
		v := s.kids[i]
		switch k {
		case "on_completion", "on_success", "on_failure", "on_true", "on_false":
			if v.kind == kString && v.s != "" {
				out = append(out, v.s)
			}
		case "next_steps", "cases":
			for _, x := range v.kids {
				if x.kind == kString {
					out = append(out, x.s)
				}
			}
		}
	}
	return out
}

func (r *repairer) stepType(id string) string { return strOf(r.step(id).get("type")) }

// ---- keys -----------------------------------------------------------------

var (
	reKeyUUID  = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$`)
	reIDPrefix = regexp.MustCompile(`^[a-z][a-z0-9-]+[a-z0-9]$`)
)

// rekey returns `<typ>--<uuid>` for a key whose prefix is wrong, taking the
// UUID from the key's end (also when `--` is missing).
func rekey(key, typ string) (string, bool) {
	u := reKeyUUID.FindString(key)
	if u == "" || !reIDPrefix.MatchString(typ) || strings.Contains(typ, "--") {
		return "", false
	}
	return typ + "--" + u, true
}

// stepKeys renames steps whose key prefix is not their type (`step--…` of
// an action, as CACAO 1.x exporters write).
func (r *repairer) stepKeys() {
	renames := map[string]string{}
	for i, k := range r.wf.keys {
		t := strOf(r.wf.kids[i].get("type"))
		if !StepType(t).Known() || (IsIdentifier(k) && idPrefix(k) == t) {
			continue
		}
		path := joinPath("$.workflow", k)
		nk, ok := rekey(k, t)
		switch {
		case !ok:
			r.refuse(path, "step key %q is not <type>--<uuid> and has no UUID to keep", k)
		case r.step(nk) != nil:
			r.refuse(path, "step key %q does not match type %q, and %q is taken", k, t, nk)
		default:
			renames[k] = nk
			r.did(path, "renamed %q: a step's key prefix is its type (%s)", nk, t)
		}
	}
	for from, to := range renames {
		r.wf.rename(from, to)
		r.index = nil
	}
	for _, x := range r.allRefs() {
		if to, ok := renames[x.n.s]; ok {
			x.n.s = to
		}
	}
}

// definitionKeys renames agent or target definitions whose key prefix is not
// their type, and the action field (agent or targets) that names them.
func (r *repairer) definitionKeys(mapKey, field string) {
	defs := r.root.get(mapKey)
	if defs == nil || defs.kind != kObject {
		return
	}
	renames := map[string]string{}
	for i, k := range defs.keys {
		t := strOf(defs.kids[i].get("type"))
		if t == "" || (IsIdentifier(k) && idPrefix(k) == t) {
			continue
		}
		path := joinPath("$."+mapKey, k)
		pre := idPrefix(k)
		if agentTargetTypes[pre] && !agentTargetTypes[t] {
			// The key names a CACAO type, the object an unknown one: either
			// may be the mistake.
			r.refuse(path, "the key says %q but the type is %q, which is not a CACAO agent-target type: which is meant cannot be told", pre, t)
			continue
		}
		nk, ok := rekey(k, t)
		switch {
		case !ok:
			r.refuse(path, "key %q is not <type>--<uuid> and has no UUID to keep", k)
		case defs.get(nk) != nil:
			r.refuse(path, "key %q does not match type %q, and %q is taken", k, t, nk)
		default:
			renames[k] = nk
			r.did(path, "renamed %q: the key prefix must be the type (%s)", nk, t)
		}
	}
	if len(renames) == 0 {
		return
	}
	for from, to := range renames {
		defs.rename(from, to)
	}
	for i, id := range r.wf.keys {
		s := r.wf.kids[i]
		v := s.get(field)
		if v == nil {
			continue
		}
		vals := []*node{v}
		if v.kind == kArray {
			vals = v.kids
		}
		for j, x := range vals {
			if to, ok := renames[strOf(x)]; ok {
				p := joinPath(joinPath("$.workflow", id), field)
				if v.kind == kArray {
					p = indexPath(p, j)
				}
				r.did(p, "renamed %q with its definition", to)
				x.s = to
			}
		}
	}
}

// ---- steps ----------------------------------------------------------------

// missingEnds adds the end steps that references name but the workflow
// lacks (SOARCA's test playbooks point workflow_exception at one): an end
// step does nothing, so adding it gives the path the meaning it was written
// with.
func (r *repairer) missingEnds() {
	added := map[string]bool{}
	for _, x := range r.allRefs() {
		id := x.n.s
		if r.step(id) != nil || added[id] {
			continue
		}
		if IsIdentifier(id) && idPrefix(id) == string(StepEnd) {
			added[id] = true
			r.addStep(id, &node{kind: kObject, keys: []string{"type"}, kids: []*node{strNode(string(StepEnd))}})
			r.did(joinPath("$.workflow", id), "added: the end step %s references was missing", x.path)
			continue
		}
		r.refuse(x.path, "references missing step %q, which is not an end step: what should run there cannot be told", id)
	}
}

// start makes workflow_start name a start step.
func (r *repairer) start() {
	var starts []string
	for i, k := range r.wf.keys {
		if strOf(r.wf.kids[i].get("type")) == string(StepStart) {
			starts = append(starts, k)
		}
	}
	first := strOf(r.root.get("workflow_start"))
	switch {
	case first == "" && len(starts) == 1:
		r.root.set("workflow_start", strNode(starts[0]))
		r.did("$.workflow_start", "set to the only start step %q", starts[0])
	case first == "":
		r.refuse("$.workflow_start", "missing, and the workflow has %d start steps", len(starts))
	case r.step(first) == nil:
		// missingEnds refused it already.
	case r.stepType(first) == string(StepStart):
	case len(starts) > 0:
		r.refuse("$.workflow_start", "names %s step %q while the workflow has start step(s) %s: which one begins the run cannot be told", r.stepType(first), first, strings.Join(starts, ", "))
	default:
		id := derivedID(string(StepStart), r.pbID, "repair", "start")
		r.index = nil
		r.wf.insertFirst(id, &node{kind: kObject, keys: []string{"type", "on_completion"}, kids: []*node{strNode(string(StepStart)), strNode(first)}})
		r.root.set("workflow_start", strNode(id))
		r.did("$.workflow_start", "was %s step %q; a start step %q now runs first and continues there", r.stepType(first), first, id)
	}
}

// region is what a branch reaches from entry without passing a stop step.
func (r *repairer) region(entry string, stop map[string]bool) map[string]bool {
	seen := map[string]bool{}
	stack := []string{entry}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[id] || stop[id] || r.step(id) == nil {
			continue
		}
		seen[id] = true
		stack = append(stack, r.succ(id)...)
	}
	return seen
}

func isBlock(t string) bool {
	switch StepType(t) {
	case StepParallel, StepIfCondition, StepSwitchCondition, StepWhileCondition:
		return true
	}
	return false
}

// branchEntries lists a block's branches as references from the block.
func (r *repairer) branchEntries(id string) []ref {
	var out []ref
	seen := map[string]bool{}
	for _, x := range r.stepRefs(id) {
		k := x.path[len(joinPath("$.workflow", id)):]
		switch {
		case strings.HasPrefix(k, ".next_steps"), k == ".on_true", k == ".on_false", strings.HasPrefix(k, ".cases"):
			if !seen[x.n.s] {
				seen[x.n.s] = true
				out = append(out, x)
			}
		}
	}
	return out
}

// block repairs the branches of a parallel, if or switch step that were
// written as gotos: CACAO branches end at end steps of their own, and the
// block then continues at its own next step (cacao.md §2).
func (r *repairer) block(id string) {
	s := r.step(id)
	t := r.stepType(id)
	if t != string(StepParallel) && t != string(StepIfCondition) && t != string(StepSwitchCondition) {
		return
	}
	path := joinPath("$.workflow", id)
	entries := r.branchEntries(id)
	if len(entries) == 0 {
		return
	}
	after := map[string]bool{}
	for _, k := range []string{"on_completion", "on_success", "on_failure"} {
		if v := strOf(s.get(k)); v != "" {
			after[v] = true
		}
	}
	if len(after) == 0 {
		regions := make([]map[string]bool, len(entries))
		for i, e := range entries {
			regions[i] = r.region(e.n.s, map[string]bool{id: true})
		}
		joins := r.joins(id, regions)
		switch {
		case len(joins) == 1 && isEntry(entries, joins[0]):
			r.refuse(path, "branch %q is also where the other branches lead: it would run twice", joins[0])
			return
		case len(joins) == 1:
			s.set("on_completion", strNode(joins[0]))
			after[joins[0]] = true
			r.did(joinPath(path, "on_completion"), "set to %q, where its branches ran into each other: the block continues there once they end", joins[0])
		case len(joins) > 1:
			r.refuse(path, "its branches join at several steps (%s): where the block ends cannot be told", strings.Join(joins, ", "))
			return
		default:
			for _, reg := range regions {
				if !r.hasEnd(reg) {
					return // the linter names the branch that never ends
				}
			}
			end := r.newEnd(id, "after")
			s.set("on_completion", strNode(end))
			r.did(joinPath(path, "on_completion"), "set to a new end step %q: every branch ends, and a %s step needs a next step", end, t)
			return
		}
	}
	stop := map[string]bool{id: true}
	for k := range after {
		stop[k] = true
	}
	ownEnd := map[int]string{}
	endFor := func(i int) string {
		if e, ok := ownEnd[i]; ok {
			return e
		}
		e := r.newEnd(id, fmt.Sprint(i))
		ownEnd[i] = e
		return e
	}
	regions := make([]map[string]bool, len(entries))
	for i, e := range entries {
		if after[e.n.s] {
			// An empty branch: straight to the step after the block.
			was := e.n.s
			e.n.s = endFor(i)
			r.did(e.path, "pointed at %q, the step after the block; the branch now ends at its own end step %q", was, e.n.s)
			continue
		}
		regions[i] = r.region(e.n.s, stop)
		var escapes []ref
		nested := false
		for x := range regions[i] {
			nested = nested || isBlock(r.stepType(x))
			for _, n := range r.succ(x) {
				if after[n] {
					for _, p := range r.stepRefs(x) {
						if after[p.n.s] {
							escapes = append(escapes, p)
						}
					}
					break
				}
			}
		}
		sortRefs(escapes)
		if len(escapes) > 0 && nested {
			r.refuse(e.path, "the branch runs into the step after the block from inside a nested block: ending it there would change what runs")
			continue
		}
		for _, p := range escapes {
			was := p.n.s
			p.n.s = endFor(i)
			r.did(p.path, "ran into %q, the step after the %s block; the branch now ends at its own end step %q", was, t, p.n.s)
		}
	}
	// Branches that share a step: an end step can be given to each; any
	// other shared step would run twice.
	for j := 1; j < len(entries); j++ {
		if regions[j] == nil {
			continue
		}
		for i := 0; i < j; i++ {
			if regions[i] == nil {
				continue
			}
			var common []string
			for x := range regions[j] {
				if regions[i][x] {
					common = append(common, x)
				}
			}
			if len(common) == 0 {
				continue
			}
			sort.Strings(common)
			for _, x := range common {
				if r.stepType(x) != string(StepEnd) {
					r.refuse(entries[j].path, "branches %q and %q share step %q: copying it would run it twice", entries[i].n.s, entries[j].n.s, x)
					return
				}
			}
			var into []ref
			for y := range regions[j] {
				for _, n := range r.succ(y) {
					if regions[i][n] {
						for _, p := range r.stepRefs(y) {
							if regions[i][p.n.s] {
								into = append(into, p)
							}
						}
						break
					}
				}
			}
			sortRefs(into)
			for _, p := range into {
				was := p.n.s
				p.n.s = endFor(j)
				r.did(p.path, "shared end step %q with another branch; the branch now ends at its own end step %q", was, p.n.s)
			}
			regions[j] = r.region(entries[j].n.s, stop)
		}
	}
}

func sortRefs(rs []ref) {
	sort.Slice(rs, func(a, b int) bool { return rs[a].path < rs[b].path })
}

// joins finds where branches written as gotos meet: the steps reached by
// every branch that a step outside the shared part leads into.
func (r *repairer) joins(block string, regions []map[string]bool) []string {
	if len(regions) < 2 {
		return nil
	}
	shared := map[string]bool{}
	for x := range regions[0] {
		all := true
		for _, reg := range regions[1:] {
			all = all && reg[x]
		}
		if all {
			shared[x] = true
		}
	}
	// The shared part is entered from a branch step outside it, or
	// straight from the block.
	into := map[string]bool{}
	for _, n := range r.succ(block) {
		into[n] = true
	}
	for _, reg := range regions {
		for y := range reg {
			if !shared[y] {
				for _, n := range r.succ(y) {
					into[n] = true
				}
			}
		}
	}
	var out []string
	for _, x := range sortedKeys(shared) {
		if into[x] {
			out = append(out, x)
		}
	}
	return out
}

func isEntry(entries []ref, id string) bool {
	for _, e := range entries {
		if e.n.s == id {
			return true
		}
	}
	return false
}

func (r *repairer) hasEnd(reg map[string]bool) bool {
	for x := range reg {
		if r.stepType(x) == string(StepEnd) {
			return true
		}
	}
	return false
}

func (r *repairer) newEnd(block, which string) string {
	id := derivedID(string(StepEnd), r.pbID, "repair-end", block+"/"+which)
	name := strOf(r.step(block).get("name"))
	if name == "" {
		name = block
	}
	r.addStep(id, &node{kind: kObject, keys: []string{"type", "name"}, kids: []*node{strNode(string(StepEnd)), strNode("End of a branch of " + name)}})
	return id
}

// fitting lists, per CACAO command type, the agent-target types that can
// carry it out (cacao.md §3, §4). Other command types bind to nothing.
var fitting = map[string][]string{
	CmdHTTPAPI:    {"http-api"},
	CmdOpenC2HTTP: {"http-api"},
	CmdOpenC2:     {"http-api"},
	CmdSSH:        {"ssh", "linux"},
	CmdBash:       {"linux"},
	CmdManual:     {"individual", "group", "organization"},
}

// agents binds each action without an agent to the only definition whose
// type fits all its commands: an agent first, else a target (copied into
// agent_definitions, since an action's agent must be defined there).
func (r *repairer) agents() {
	for i, id := range r.wf.keys {
		s := r.wf.kids[i]
		if strOf(s.get("type")) != string(StepAction) || strOf(s.get("agent")) != "" {
			continue
		}
		path := joinPath(joinPath("$.workflow", id), "agent")
		types := r.fittingTypes(s)
		if len(types) == 0 {
			r.refuse(path, "missing, and no agent type is known to fit its commands")
			continue
		}
		agents := r.candidates("agent_definitions", types, nil)
		if len(agents) > 1 {
			r.refuse(path, "missing, and %d agents fit (%s): which one runs it cannot be told", len(agents), strings.Join(agents, ", "))
			continue
		}
		if len(agents) == 1 {
			s.set("agent", strNode(agents[0]))
			r.did(path, "bound to the only %s agent %q", r.defType("agent_definitions", agents[0]), agents[0])
			continue
		}
		var own []string
		if ts := s.get("targets"); ts != nil && ts.kind == kArray {
			for _, t := range ts.kids {
				own = append(own, strOf(t))
			}
		}
		targets := r.candidates("target_definitions", types, own)
		if len(targets) != 1 {
			r.refuse(path, "missing, and %d targets fit (%s): which one runs it cannot be told", len(targets), strings.Join(targets, ", "))
			continue
		}
		defs := r.root.get("agent_definitions")
		if defs == nil {
			defs = &node{kind: kObject}
			r.root.set("agent_definitions", defs)
		}
		if defs.get(targets[0]) == nil {
			defs.set(targets[0], r.root.get("target_definitions").get(targets[0]))
			r.did(joinPath("$.agent_definitions", targets[0]), "copied from target_definitions: an action's agent must be defined among the agents")
		}
		s.set("agent", strNode(targets[0]))
		r.did(path, "bound to the only %s target %q", r.defType("target_definitions", targets[0]), targets[0])
	}
}

func (r *repairer) defType(mapKey, key string) string {
	return strOf(r.root.get(mapKey).get(key).get("type"))
}

// fittingTypes is the set of agent types that fit every command of an
// action.
func (r *repairer) fittingTypes(s *node) map[string]bool {
	cmds := s.get("commands")
	if cmds == nil || cmds.kind != kArray || len(cmds.kids) == 0 {
		return nil
	}
	var out map[string]bool
	for _, c := range cmds.kids {
		m := map[string]bool{}
		for _, t := range fitting[strOf(c.get("type"))] {
			if out == nil || out[t] {
				m[t] = true
			}
		}
		out = m
	}
	return out
}

// candidates lists the definitions in mapKey whose type is in types; when
// some of them are in prefer (an action's own targets), only those.
func (r *repairer) candidates(mapKey string, types map[string]bool, prefer []string) []string {
	defs := r.root.get(mapKey)
	if defs == nil || defs.kind != kObject {
		return nil
	}
	var all, preferred []string
	for i, k := range defs.keys {
		if !types[strOf(defs.kids[i].get("type"))] {
			continue
		}
		all = append(all, k)
		for _, p := range prefer {
			if p == k {
				preferred = append(preferred, k)
			}
		}
	}
	if len(preferred) > 0 {
		return preferred
	}
	return all
}

// orphanEnds removes end steps nothing points to: they can never run, and
// the linter refuses unreachable steps (a typo'd reference repaired by
// missingEnds leaves the intended end behind).
func (r *repairer) orphanEnds() {
	pointed := map[string]bool{}
	for _, x := range r.allRefs() {
		pointed[x.n.s] = true
	}
	var gone []string
	for i, k := range r.wf.keys {
		if strOf(r.wf.kids[i].get("type")) == string(StepEnd) && !pointed[k] {
			gone = append(gone, k)
		}
	}
	if len(gone) == len(r.wf.keys) {
		return
	}
	sort.Strings(gone)
	for _, k := range gone {
		r.wf.del(k)
		r.index = nil
		r.did(joinPath("$.workflow", k), "removed: no step leads to this end step")
	}
}
