package main

import (
	"os"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/agent"
)

// The example agent configuration reads strictly, so it stays true to the
// keys the agent knows.
func TestExampleAgentConfig(t *testing.T) {
	b, err := os.ReadFile("../../examples/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := agentFile{Config: agent.Config{}}
	if err := yaml.UnmarshalWithOptions(b, &cfg, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	if cfg.Server == "" || len(cfg.HostOps.ConfigFiles) == 0 || len(cfg.HostOps.Remediations) == 0 {
		t.Fatalf("%+v", cfg)
	}
}
