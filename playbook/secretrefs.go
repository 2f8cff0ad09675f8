package playbook

import "strings"

// secretPrefix is secret.Ref; the playbook model does not depend on the
// store, so the prefix is repeated here.
const secretPrefix = "secret://"

// SecretRef is one "secret://NAME" reference in a playbook.
type SecretRef struct {
	Ref    string // the whole value, "secret://NAME"
	Path   string // in the source's terms (YAML path for YAML playbooks) when parsed, else the CACAO path
	Line   int
	Column int
}

// SecretRefs finds every secret:// reference a playbook makes: its webhook
// trigger's secret_ref and any string inside a connector command's
// arguments, however deeply nested. Import and `playbook validate` check
// these against the secret store, so a misspelt or deleted secret is
// refused when the playbook is stored rather than when it is needed.
func SecretRefs(p *Playbook) []SecretRef {
	if p == nil {
		return nil
	}
	var out []SecretRef
	add := func(path, s string) {
		if !strings.HasPrefix(s, secretPrefix) {
			return
		}
		r := SecretRef{Ref: s, Path: path}
		if pos, ok := p.Source.Lookup(path); ok {
			r.Path, r.Line, r.Column = pos.Path, pos.Line, pos.Column
		}
		out = append(out, r)
	}
	if t := p.Trigger; t != nil && t.Webhook != nil {
		ext := joinPath("$.playbook_extensions", RiposteExtensionID)
		add(joinPath(joinPath(joinPath(ext, "trigger"), "webhook"), "secret_ref"), t.Webhook.SecretRef)
	}
	for _, id := range sortedKeys(p.Steps) {
		for i, c := range p.Steps[id].Commands {
			walkStrings(c.Args, joinPath(indexPath(joinPath(stepPath(id), "commands"), i), "args"), add)
		}
	}
	return out
}
