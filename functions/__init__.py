"""Lambda handlers of the reference apps: ``functions/<app>/``, one module per function.

Each app's functions deploy as one code asset (its package, as ``functions/<app>/``) plus a layer
with the pinned runtime dependencies in ``requirements.txt``; handler strings are
``functions.<app>.<module>.handler``.
"""
