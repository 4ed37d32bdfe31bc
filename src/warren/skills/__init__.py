"""User-installable skills: archive checks, storage and placement in sandboxes, and the
middleware that shows the agent the user's skills."""
