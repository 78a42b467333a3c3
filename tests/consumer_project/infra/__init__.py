"""The consumer's own infrastructure package (named ``infra`` on purpose: the harness's wheel must
not ship a package of that name)."""
