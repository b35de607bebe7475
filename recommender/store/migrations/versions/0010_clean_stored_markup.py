"""Spreadsheet and web debris in texts stored before the door cleaned it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Since 2026-12-07 the one cleaning of every door (:func:`recommender.door.validation.clean_text`)
decodes Excel's 「_x000D_」, HTML entities (「&quot;」, 「&nbsp;」) and removes simple tags
(「<br>」, 「<a href=…>」) before a text is stored. Texts stored before still hold them: they
are shown, exported and tokenized (「quot」 became a topic word). This revision cleans them
as the door does now, in batches of :data:`BATCH` rows:

- ``feedback.text`` of every line that still has its text, and ``class_responses.text``;
- then masks the cleaned text again, only where the cleaning changed it: masking is
  idempotent (a 「[手机号]」 stays as it is), and a number an entity hid from the masking of
  its day (「138&#48;0001234」) must not come out of the cleaning unmasked. A text the
  cleaning did not change is left as it is (masked as on the day it was stored);
- a cleaned line's ``text_key`` (the hash "identical text from many people" and an import's
  copy check compare) follows its text, and its cached tokens (``feedback_tokens``) are
  deleted: the next retrain tokenizes the clean text;
- an imported line the cleaning made identical to one imported without debris (the same
  answer imported again, as the door cleans it, from a renamed or re-exported file: same text,
  submission time and submitter) is the copy it is: the later of the two is marked a repeat of
  the earlier (``repeat_of``, as a double submit is), so both are kept and shown (「重复提交」)
  and counted once. Nothing is deleted or merged; each cleaned line pairs with at most one
  line stored clean, so identical answers of one file stay as many as they were.

A text that would be left with no letter or digit (only debris, 「&nbsp;」) is kept as it is.
Content keys of rows imported without an id column (``h…`` external ids) cannot be made
again (the submitter and the cells as written are not stored); an import recognises them by
the key it had before (:mod:`recommender.door.content_keys`). Quotes kept in saved model
versions are the old texts: they are not shown until the next retrain quotes the clean ones.

Downgrade changes nothing: the texts as they were are not kept.
"""

import sqlalchemy as sa
from alembic import op

from recommender.door.screening import text_key
from recommender.door.validation import clean_text, has_content
from recommender.text.markup import may_hold_markup
from recommender.text.masking import mask_personal_data

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: Rows read and written at a time.
BATCH = 500
#: Statuses of lines that hold their text (withdrawn and purged lines have none).
WITH_TEXT = ("visible", "hidden", "flagged")
#: Source prefix of imported lines (``recommender.store.intake.IMPORT_SOURCE``).
IMPORTED = "import:"
# Only texts that may hold debris are read: a '&', a '<' or Excel's '_x' ('_' escaped for LIKE).
_MAY_HOLD = "({col} LIKE '%&%' OR {col} LIKE '%<%' OR {col} LIKE '%!_x%' ESCAPE '!')"


def cleaned(text: str | None) -> str | None:
    """``text`` as the door stores it now, or None when the cleaning leaves it as it is (or
    with nothing a person wrote)."""
    if not text or not may_hold_markup(text):
        return None
    clean = clean_text(text)
    if clean == text:
        return None
    clean = mask_personal_data(clean)
    return clean if has_content(clean) and clean != text else None


def _batches(conn, table: str, columns: str, where: str):
    """Rows of ``table`` (id first) matching ``where``, in id order, :data:`BATCH` at a time."""
    last = None
    while True:
        after = "" if last is None else "id > :last AND "
        rows = conn.execute(
            sa.text(f"SELECT id, {columns} FROM {table} WHERE {after}{where} ORDER BY id LIMIT {BATCH}"),
            {} if last is None else {"last": last},
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _clean_feedback(conn) -> None:
    statuses = ", ".join(f"'{status}'" for status in WITH_TEXT)
    where = f"status IN ({statuses}) AND " + _MAY_HOLD.format(col="text")
    columns = "text, text_key, submitted_at, source, submitter_hash, repeat_of"
    cleaned_ids: set[int] = set()  # lines this upgrade changed (not "stored clean")
    paired: set[int] = set()  # lines stored clean already taken as a cleaned line's copy
    for rows in _batches(conn, "feedback", columns, where):
        changes = [(row, new) for row in rows if (new := cleaned(row[1])) is not None]
        if not changes:
            continue
        conn.execute(
            sa.text("UPDATE feedback SET text = :text, text_key = :key WHERE id = :id"),
            [{"id": row[0], "text": new, "key": text_key(new) if row[2] is not None else None} for row, new in changes],
        )
        conn.execute(
            sa.text("DELETE FROM feedback_tokens WHERE feedback_id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": [row[0] for row, _ in changes]},
        )
        cleaned_ids.update(row[0] for row, _ in changes)
        for row, new in changes:
            if row[2] is not None and str(row[4]).startswith(IMPORTED):
                _mark_copy(conn, row, new, cleaned_ids, paired, statuses)


def _mark_copy(conn, row, new: str, cleaned_ids: set[int], paired: set[int], statuses: str) -> None:
    """Pair a cleaned imported line with the first imported line stored clean with the same
    text, submission time and submitter (not yet paired), and mark the later of the two a
    repeat of the earlier (unless it already repeats one)."""
    row_id, _text, _key, submitted_at, _source, submitter, repeat_of = row
    same_submitter = "submitter_hash IS NULL" if submitter is None else "submitter_hash = :submitter"
    candidates = conn.execute(
        sa.text(
            f"SELECT id, repeat_of FROM feedback WHERE text_key = :key AND submitted_at = :at AND text = :text "
            f"AND source LIKE :imported AND status IN ({statuses}) AND {same_submitter} AND id <> :id ORDER BY id"
        ),
        {"key": text_key(new), "at": submitted_at, "text": new, "imported": IMPORTED + "%", "id": row_id,
         **({} if submitter is None else {"submitter": submitter})},
    ).all()
    copy = next((c for c in candidates if c[0] not in cleaned_ids and c[0] not in paired), None)
    if copy is None:
        return
    paired.add(copy[0])
    later, earlier, later_repeats = (row_id, copy[0], repeat_of) if row_id > copy[0] else (copy[0], row_id, copy[1])
    if later_repeats is None:
        conn.execute(sa.text("UPDATE feedback SET repeat_of = :earlier WHERE id = :later"), {"earlier": earlier, "later": later})


def _clean_class_responses(conn) -> None:
    where = "text IS NOT NULL AND " + _MAY_HOLD.format(col="text")
    for rows in _batches(conn, "class_responses", "text", where):
        changes = [{"id": i, "text": new} for i, text in rows if (new := cleaned(text)) is not None]
        if changes:
            conn.execute(sa.text("UPDATE class_responses SET text = :text WHERE id = :id"), changes)


def upgrade() -> None:
    conn = op.get_bind()
    _clean_feedback(conn)
    _clean_class_responses(conn)


def downgrade() -> None:
    """Nothing: the texts as they were before the cleaning are not kept."""
