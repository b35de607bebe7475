"""The door: everything feedback passes before it is stored.

- :mod:`~recommender.door.validation`: the rules every door shares (clean, mask, validate) →
  :class:`~recommender.door.validation.FeedbackDraft`;
- :mod:`~recommender.door.importer` and :mod:`~recommender.door.questionnaire`: CSV, XLSX and
  JSONL files, 问卷星 / 腾讯问卷 exports;
- :mod:`~recommender.door.screening`: automated-looking intake, receipt codes, audit actors;
- :mod:`~recommender.door.intake_queue`: group commit (one writer per worker);
- :mod:`~recommender.door.demo`: the bundled demo feedback.

Plain Python: no database, no model, no web framework.
"""
