package alarm

import "context"

// Reload rebuilds the in-memory state (open incidents, recent alerts,
// silences) from the store, as at start. A node that takes the alarm stage
// over in a cluster calls it first, so it continues from what the previous
// holder committed instead of from what it knew when it started.
func (s *Service) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	return s.restore(ctx)
}
