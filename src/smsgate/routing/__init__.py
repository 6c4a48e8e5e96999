"""Routes: which connector carries which message."""
