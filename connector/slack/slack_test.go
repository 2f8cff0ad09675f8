package slack

import (
	"testing"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/hookcheck"
	"github.com/riposte-soar/riposte/notify/channel"
)

// A step's message reaches a real receiver with the markup of values
// escaped, once per call.
func TestPostsEscapedMessage(t *testing.T) {
	hookcheck.Posts(t, func(channels map[string]channel.HookConfig) (connector.Connector, error) {
		return New(Config{Channels: channels})
	})
}

func TestSampleConfig(t *testing.T) { hookcheck.SampleConfig(t, Name, SampleConfig) }
