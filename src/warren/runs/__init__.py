"""Runs: the event union, and the manager that runs agents in the background."""
