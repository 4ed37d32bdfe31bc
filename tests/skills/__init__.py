"""Tests of user-installable skills: archive checks, the SSRF-guarded fetch, storage,
sandboxes and the agent."""
