"""Trial templates: the single source read by the core, the local runner and the Helm chart."""
