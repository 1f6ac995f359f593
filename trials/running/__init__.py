"""Running a search: the driver's searcher, the Ray worker, MOASHA, the progress line, the protocol."""
