"""The yard's domain: owners, tokens, packages, releases, files and labels, free of HTTP."""
