"""The evaluator service: benchmarks, scoring and reports for search agents (see docs/evaluator.md).

Modules: ``config`` (EvalConfig), ``datasets`` (the 7-benchmark registry), ``scoring``, ``report``,
``runner`` (``main(config)``), ``jobs`` (RQ ``run_eval_job``), ``summary`` and ``cli``. Nothing is imported
here, so ``zerosearch --help`` stays instant.
"""

__all__: list[str] = []
