"""nasbench-mt predictor library: encoders, surrogate and ranking predictors, metrics."""

__all__: list[str] = []
