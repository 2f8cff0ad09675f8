package console

// playbookRoutes lists the routes of playbooks and rules.
func (c *Console) playbookRoutes() []route { return nil }
