"""The agent: the one place that builds the deep agent, and the translation of its stream."""
