"""Lambda handlers of the reference pipeline (one module per function).

Deployed as one code asset (this package) plus a layer with the pinned runtime dependencies in
``requirements.txt``; handler strings are ``functions.<module>.handler``.
"""
