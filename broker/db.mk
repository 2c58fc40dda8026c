# owned by one module; see docs/DEVELOPING.md
