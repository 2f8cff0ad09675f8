package ssh

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SampleConfig is the part of riposte.yaml the ssh connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Defaults for the zero values of Config.
const (
	DefaultPort           = 22
	DefaultTimeout        = 30 * time.Second
	DefaultMaxOutputBytes = 64 << 10
)

// Bounds on what a call may carry.
const (
	maxValueBytes = 4 << 10 // one parameter value
	maxArgs       = 64      // values of one call
)

// Config is the ssh connector's configuration. KnownHosts, User and one
// of KeyFile or KeyEnv are required; Commands is the allowlist: nothing
// else can be run.
type Config struct {
	// KnownHosts is the path of an OpenSSH known_hosts file. A host
	// without an entry, or whose key differs from it, is refused.
	KnownHosts string `yaml:"known_hosts" json:"known_hosts"`
	// User is the remote account.
	User string `yaml:"user" json:"user"`
	// KeyFile is the path of an unencrypted private key (OpenSSH or PEM).
	KeyFile string `yaml:"key_file" json:"key_file,omitempty"`
	// KeyEnv names the environment variable holding the private key; it
	// is read at each call and never written anywhere.
	KeyEnv string `yaml:"key_env" json:"key_env,omitempty"`
	// Port is the remote port; 0 means DefaultPort.
	Port int `yaml:"port" json:"port,omitempty"`
	// Timeout bounds a whole call (connect, run, output); 0 means
	// DefaultTimeout.
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// MaxOutputBytes is how much of stdout and of stderr the outputs
	// keep; 0 means DefaultMaxOutputBytes.
	MaxOutputBytes int `yaml:"max_output_bytes" json:"max_output_bytes,omitempty"`
	// Commands is the allowlist, by name.
	Commands map[string]Command `yaml:"commands" json:"commands"`
}

// Command is one allowlisted command: a fixed argv in which {name}
// placeholders are replaced by parameter values. A value stays inside the
// argv element it is placed in, whatever it contains.
type Command struct {
	Argv   []string         `yaml:"argv" json:"argv"`
	Params map[string]Param `yaml:"params" json:"params,omitempty"`
}

// Param declares one parameter of a command.
type Param struct {
	// Pattern is an RE2 expression the whole value must match (it is
	// anchored whether or not it starts with ^ and ends with $).
	Pattern string `yaml:"pattern" json:"pattern"`
}

var (
	placeholderRE = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	commandNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
)

// command is a validated allowlist entry.
type command struct {
	name  string
	argv  []string
	order []string // parameters, by first appearance in argv
	re    map[string]*regexp.Regexp
	// match holds, per argv element, a regexp recognising a filled-in
	// element and which parameter each of its groups captures: run_argv
	// finds the allowlisted command a CACAO ssh command line is.
	match []elemMatch
}

type elemMatch struct {
	re     *regexp.Regexp
	params []string // the placeholders in order
	groups []int    // the group capturing each
}

func (c Config) withDefaults() Config {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxOutputBytes <= 0 {
		c.MaxOutputBytes = DefaultMaxOutputBytes
	}
	return c
}

// validate checks the config and compiles the allowlist.
func (c Config) validate() (map[string]*command, error) {
	var errs []error
	if c.KnownHosts == "" {
		errs = append(errs, errors.New("ssh: known_hosts is required (host keys must be known)"))
	} else if _, err := knownhosts.New(c.KnownHosts); err != nil {
		errs = append(errs, fmt.Errorf("ssh: known_hosts: %v", err))
	}
	if c.User == "" {
		errs = append(errs, errors.New("ssh: user is required"))
	}
	switch {
	case c.KeyFile == "" && c.KeyEnv == "":
		errs = append(errs, errors.New("ssh: key_file or key_env is required"))
	case c.KeyFile != "" && c.KeyEnv != "":
		errs = append(errs, errors.New("ssh: give key_file or key_env, not both"))
	case c.KeyFile != "":
		if _, err := loadKeyFile(c.KeyFile); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("ssh: port %d is out of range", c.Port))
	}
	cmds := map[string]*command{}
	names := make([]string, 0, len(c.Commands))
	for n := range c.Commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		cmd, err := compileCommand(name, c.Commands[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cmds[name] = cmd
	}
	return cmds, errors.Join(errs...)
}

func compileCommand(name string, c Command) (*command, error) {
	if !commandNameRE.MatchString(name) {
		return nil, fmt.Errorf("ssh: commands: %q is not a command name (letters, digits, _ . -)", name)
	}
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		return nil, fmt.Errorf("ssh: commands.%s: argv must name a program", name)
	}
	if placeholderRE.MatchString(c.Argv[0]) {
		return nil, fmt.Errorf("ssh: commands.%s: the program (argv[0]) cannot be a parameter", name)
	}
	out := &command{name: name, argv: slices.Clone(c.Argv), re: map[string]*regexp.Regexp{}}
	for i, a := range c.Argv {
		if containsNUL(a) {
			return nil, fmt.Errorf("ssh: commands.%s: argv[%d] contains NUL", name, i)
		}
		for _, m := range placeholderRE.FindAllStringSubmatch(a, -1) {
			p := m[1]
			if _, ok := c.Params[p]; !ok {
				return nil, fmt.Errorf("ssh: commands.%s: argv[%d] uses {%s}, which params does not declare", name, i, p)
			}
			if !slices.Contains(out.order, p) {
				out.order = append(out.order, p)
			}
		}
	}
	for p, spec := range c.Params {
		if !slices.Contains(out.order, p) {
			return nil, fmt.Errorf("ssh: commands.%s: param %q is not used in argv", name, p)
		}
		if spec.Pattern == "" {
			return nil, fmt.Errorf("ssh: commands.%s: param %q has no pattern", name, p)
		}
		re, err := regexp.Compile(`^(?:` + spec.Pattern + `)$`)
		if err != nil {
			return nil, fmt.Errorf("ssh: commands.%s: param %q: pattern: %v", name, p, err)
		}
		out.re[p] = re
	}
	for _, a := range c.Argv {
		var b strings.Builder
		var groups []int
		params := []string{}
		last, next := 0, 1
		for _, m := range placeholderRE.FindAllStringSubmatchIndex(a, -1) {
			p := a[m[2]:m[3]]
			b.WriteString(regexp.QuoteMeta(a[last:m[0]]))
			b.WriteString(`(` + c.Params[p].Pattern + `)`)
			params = append(params, p)
			groups = append(groups, next)
			// The param's own groups come after ours.
			next += 1 + out.re[p].NumSubexp()
			last = m[1]
		}
		b.WriteString(regexp.QuoteMeta(a[last:]))
		re, err := regexp.Compile(`^(?:` + b.String() + `)$`)
		if err != nil {
			return nil, fmt.Errorf("ssh: commands.%s: argv element %q: %v", name, a, err)
		}
		out.match = append(out.match, elemMatch{re: re, params: params, groups: groups})
	}
	return out, nil
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

func loadKeyFile(path string) (xssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ssh: key_file: %v", err)
	}
	s, err := xssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("ssh: key_file %s: %v (an unencrypted private key is needed)", path, err)
	}
	return s, nil
}

func (c Config) signer() (xssh.Signer, error) {
	if c.KeyFile != "" {
		return loadKeyFile(c.KeyFile)
	}
	v := os.Getenv(c.KeyEnv)
	if v == "" {
		return nil, fmt.Errorf("ssh: environment variable %s (key_env) is not set", c.KeyEnv)
	}
	s, err := xssh.ParsePrivateKey([]byte(v))
	if err != nil {
		// The parse error could quote the key's bytes: name only the variable.
		return nil, fmt.Errorf("ssh: environment variable %s (key_env) does not hold an unencrypted private key", c.KeyEnv)
	}
	return s, nil
}
