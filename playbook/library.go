package playbook

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
)

// Library holds Riposte's starter playbooks (library/*.yaml): SSH brute
// force, malware on a host, phishing reported, suspicious process from a
// Sigma hit, and an outbound indicator match. They use only the built-in
// connectors http, notify, incident, wait, set and agent, and manual
// approval steps.
//
//go:embed library/*.yaml
var Library embed.FS

// LoadLibrary parses every playbook in Library, in file name order. It
// fails on the first file with a parse error (the library is tested, so
// that means a broken build).
func LoadLibrary() ([]*Playbook, error) {
	names, err := fs.Glob(Library, "library/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []*Playbook
	for _, name := range names {
		data, err := Library.ReadFile(name)
		if err != nil {
			return nil, err
		}
		p, errs := ParseYAML(data)
		if HasErrors(errs) {
			return nil, fmt.Errorf("%s: %v", path.Base(name), Errors(errs)[0])
		}
		out = append(out, p)
	}
	return out, nil
}
