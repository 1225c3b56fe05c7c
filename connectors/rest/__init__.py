"""REST binding of TBS-1.0 §15: client connector (httpx) and server app (FastAPI)."""
