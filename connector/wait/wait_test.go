package wait

import (
	"context"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/connector"
)

func TestSleepReturnsAtOnce(t *testing.T) {
	c := New(Config{})
	start := time.Now()
	r, err := c.Execute(context.Background(), connector.Call{Operation: "sleep", Args: map[string]any{"duration": "2h"}})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > time.Second || r.Outputs["duration"] != "2h0m0s" || r.Outputs["seconds"] != 7200.0 {
		t.Fatalf("%v %v", time.Since(start), r.Outputs)
	}
}

func TestSleepRejects(t *testing.T) {
	c := New(Config{Max: time.Hour})
	for _, args := range []map[string]any{
		{}, {"duration": 5}, {"duration": "soon"}, {"duration": "-1s"}, {"duration": "0s"}, {"duration": "2h"},
		{"duration": "1s", "x": 1},
	} {
		if _, err := c.Simulate(context.Background(), connector.Call{Operation: "sleep", Args: args}); err == nil || connector.ClassOf(err) != connector.Permanent {
			t.Errorf("%v: err %v, want permanent", args, err)
		}
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		Connectors struct {
			Wait Config `yaml:"wait"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &doc, yaml.Strict()); err != nil || doc.Connectors.Wait.Max != 720*time.Hour {
		t.Fatalf("%v %+v", err, doc)
	}
}
