"""Subcommands of the evalaudit CLI that live in their own module."""
