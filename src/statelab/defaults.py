"""Defaults the command line shows and the library uses, in one place (imported by the CLI
before anything heavy)."""

# Repeats per experiment of the study, chosen from the power analysis (README, "Why 500"):
# stateful's RMSEs have a standard deviation near 9.3, and 500 repeats detect a 2-point
# difference in mean RMSE with 77% power at alpha 0.05 / 6 (Holm's strictest step) even
# in an unpaired t-test; the paired tests the verdicts use are much stronger.
STUDY_REPEATS = 500
# The A-vs-A pool: repeats of `stateful` behind the standard-error curve.
POOL = 1000
# Repeats of `statelab run`.
RUN_REPEATS = 10
# Repeat indices per chunk (the unit of work, storage and resume) of the study; a run over
# several series picks its own (statelab.execution.plan.repeats_per_chunk).
CHUNK = 100
# The folder of a command's store and files.
OUT = "results"
# The equivalence margin: a difference in mean RMSE under this share of the series'
# persistence RMSE is "practically equivalent", too small to matter (a paired TOST).
MARGIN = 0.01
# `statelab generalise`: the collection, and repeats per experiment and series.
GENERALISE_DATA = "m3/monthly"
GENERALISE_REPEATS = 30
# The significance level of every test and interval (95% CIs, 90% for the TOSTs).
ALPHA = 0.05
