"""The study behind ``coarseopt run``, by what each part does.

- :mod:`.evaluate`: step 3 of the study, on customers whose policies were learned without
  them (one held-out half, or every fold of the cross-fitted study).
"""
