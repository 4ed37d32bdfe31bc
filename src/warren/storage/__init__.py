"""Storage: records (MongoDB or SQLite), live state (Redis or in-process), LangGraph persistence."""
