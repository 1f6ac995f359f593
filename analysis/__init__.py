"""Reading a study back: Pareto fronts, hypervolume, ablation statistics, plots, reports.

Everything here works from the Optuna storage alone (URL + study name), so a report can be
rebuilt on any machine long after the search ran.  This package never imports Ray and reads
trial facts only under the names defined in ``trials.record``.
"""
