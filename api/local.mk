# api: see docs/DEVELOPING.md
