"""Release files: the table schema, the manifest (hashes, roles, provenance) and the statistics computed from
a release's tables. Plain files and pandas: no torch.
"""
