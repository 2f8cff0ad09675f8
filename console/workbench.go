package console

// workbenchRoutes lists the routes of the incident workbench and approvals.
func (c *Console) workbenchRoutes() []route { return nil }
