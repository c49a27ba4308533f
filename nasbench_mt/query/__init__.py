"""The query API: load a release, query architectures, evaluate exit policies, fit a surrogate."""
