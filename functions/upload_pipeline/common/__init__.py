"""Code shared by the pipeline's functions: event models and their normalisation."""
