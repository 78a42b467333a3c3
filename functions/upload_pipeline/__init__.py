"""The upload pipeline's handlers (seed 003): API, processor, confirmation sender."""
