package console

// opsRoutes lists the routes of agents, decisions, events, metrics, silences and assets.
func (c *Console) opsRoutes() []route { return nil }
