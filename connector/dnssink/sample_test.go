package dnssink

import (
	"context"
	"testing"

	"github.com/goccy/go-yaml"
)

// sample.conf is what the server reads under connectors.dnssink (strictly):
// every key in it is a field, and the connector accepts it.
func TestSampleConfig(t *testing.T) {
	var f struct {
		Connectors struct {
			C Config `yaml:"dnssink"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &f, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	cfg := f.Connectors.C
	cfg.Secrets = func(context.Context, string) (string, error) { return "", nil }
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
}
