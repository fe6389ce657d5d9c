"""Renderers: turn an AuditResult into text, Markdown (and later HTML). They compute nothing."""
