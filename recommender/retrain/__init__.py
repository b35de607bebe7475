"""Retrain: store → model → a new published version, and what serves it.

- :mod:`~recommender.retrain.pipeline`: ``train_from_store`` (either engine) and the local engine;
- :mod:`~recommender.retrain.dask_engine`: the same fit with the rows on Dask workers;
- :mod:`~recommender.retrain.publishing`: ``publish_version`` and what both engines share;
- :mod:`~recommender.retrain.topic_identity`: stable topic ids across versions;
- :mod:`~recommender.retrain.registry`: versions on disk and the ``CURRENT`` pointer;
- :mod:`~recommender.retrain.hot_swap`: every worker picks up a new current version;
- :mod:`~recommender.retrain.lock`: one retrain at a time, across processes;
- :mod:`~recommender.retrain.runner`: a retrain started from the web as a child process.
"""
