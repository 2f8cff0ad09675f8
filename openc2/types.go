package openc2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Command is an OpenC2 command (LS §3.3.1).
type Command struct {
	Action    string    `json:"action"`
	Target    Target    `json:"target"`
	Args      *Args     `json:"args,omitempty"`
	Actuator  *Actuator `json:"actuator,omitempty"`
	CommandID string    `json:"command_id,omitempty"`
	// Profile is the LS 2.0 field, accepted on input and otherwise ignored.
	Profile string `json:"profile,omitempty"`
}

// Target is the command's target Choice: exactly one key (e.g. "ipv4_net",
// "file", "slpf:rule_number") and its value, kept as raw JSON.
type Target struct {
	Name  string
	Value json.RawMessage
}

// Actuator is the actuator Choice keyed by profile NSID, e.g. {"slpf": {...}}.
type Actuator struct {
	Profile    string
	Specifiers json.RawMessage
}

// Args holds the LS arguments; profile and extension arguments (keyed by
// NSID, e.g. "slpf", "er", "x-riposte") are kept raw in Profiles.
type Args struct {
	StartTime         *int64                     `json:"start_time,omitempty"`
	StopTime          *int64                     `json:"stop_time,omitempty"`
	Duration          *int64                     `json:"duration,omitempty"`
	ResponseRequested string                     `json:"response_requested,omitempty"`
	Comment           string                     `json:"comment,omitempty"`
	Profiles          map[string]json.RawMessage `json:"-"`
}

// Response is an OpenC2 response (LS §3.3.2).
type Response struct {
	Status     int                        `json:"status"`
	StatusText string                     `json:"status_text,omitempty"`
	Results    map[string]json.RawMessage `json:"results,omitempty"`
}

func choiceMarshal(k string, v json.RawMessage) ([]byte, error) {
	if k == "" {
		return nil, errors.New("openc2: empty choice key")
	}
	if len(v) == 0 {
		v = json.RawMessage("{}")
	}
	return json.Marshal(map[string]json.RawMessage{k: v})
}

func choiceUnmarshal(data []byte, what string) (string, json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return "", nil, fmt.Errorf("openc2: %s: %v", what, err)
	}
	if len(m) != 1 {
		return "", nil, fmt.Errorf("openc2: %s: must have exactly one member, has %d", what, len(m))
	}
	for k, v := range m {
		return k, v, nil
	}
	return "", nil, nil
}

func (t Target) MarshalJSON() ([]byte, error) { return choiceMarshal(t.Name, t.Value) }
func (t *Target) UnmarshalJSON(b []byte) (err error) {
	t.Name, t.Value, err = choiceUnmarshal(b, "target")
	return err
}
func (a Actuator) MarshalJSON() ([]byte, error) { return choiceMarshal(a.Profile, a.Specifiers) }
func (a *Actuator) UnmarshalJSON(b []byte) (err error) {
	a.Profile, a.Specifiers, err = choiceUnmarshal(b, "actuator")
	return err
}

type argsAlias Args

func (a Args) MarshalJSON() ([]byte, error) {
	base, err := json.Marshal(argsAlias(a))
	if err != nil || len(a.Profiles) == 0 {
		return base, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(base, &m); err != nil {
		return nil, err
	}
	for k, v := range a.Profiles {
		m[k] = v
	}
	return json.Marshal(m)
}

func (a *Args) UnmarshalJSON(b []byte) error {
	var al argsAlias
	if err := json.Unmarshal(b, &al); err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for _, k := range []string{"start_time", "stop_time", "duration", "response_requested", "comment"} {
		delete(m, k)
	}
	if len(m) > 0 {
		al.Profiles = m
	}
	*a = Args(al)
	return nil
}

// DecodeCommand validates data with ValidateCommandFor(c, ...) and decodes it.
func DecodeCommand(c Component, data []byte) (*Command, error) {
	if err := ValidateCommandFor(c, data); err != nil {
		return nil, err
	}
	var cmd Command
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cmd); err != nil {
		return nil, fmt.Errorf("openc2: %v", err)
	}
	return &cmd, nil
}

// DecodeResponse validates data with ValidateResponseFor(c, ...) and decodes
// it. A status written as 200.0 is accepted and stored as 200.
func DecodeResponse(c Component, data []byte) (*Response, error) {
	if err := ValidateResponseFor(c, data); err != nil {
		return nil, err
	}
	var raw struct {
		Status     json.Number                `json:"status"`
		StatusText string                     `json:"status_text"`
		Results    map[string]json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("openc2: %v", err)
	}
	f, err := raw.Status.Float64()
	if err != nil {
		return nil, fmt.Errorf("openc2: status: %v", err)
	}
	return &Response{Status: int(f), StatusText: raw.StatusText, Results: raw.Results}, nil
}
