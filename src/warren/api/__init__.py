"""HTTP routes: thin handlers that parse, authorize, call one service and return a schema."""
