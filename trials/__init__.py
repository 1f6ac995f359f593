"""Running candidates: data, the training loop, the Optuna study, Ray Tune workers, the CLI."""
