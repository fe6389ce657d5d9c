"""evalaudit test suite (a regular package: a site-packages "tests" package must not shadow it)."""
