"""Training candidates: the loop (no Ray), replicates together, the data sets, export."""
