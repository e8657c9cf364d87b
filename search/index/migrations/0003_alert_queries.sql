-- Saved searches as the PostgreSQL percolator keeps them (search/query/pg_percolate.py): each compiled once, when
-- first matched, and kept under a hash of its canonical form (`key`), so an unchanged saved search is never
-- compiled again and two saved searches asking the same thing share one row.
--
-- A row is what the alert run checks against each new article, in SQL:
--   `lexemes` and `words`: the query text as a tsquery over each vector (NULL: no condition on it);
--   `outlets`, `actors`, `years`, `languages`: the facet filters (NULL: none set);
--   the date filter: `first_at`, `last_at` (naive UTC, to the second), `recent` (a preset counted back from
--   the run's moment, which is a parameter of the match, never stored), `undated_only`, `certainty`;
--   `required`: lexemes at least one of which every article the query matches holds (NULL when none can be
--   derived: such a query is a candidate for every article). The GIN index on it finds, for a new article,
--   only the saved searches that could match it.
-- A query this form cannot express (a non-prefix wildcard, a field or date condition inside the text) is kept
-- with `whole` true and matched on its own against the new articles.

CREATE TABLE alert_queries (
    key text PRIMARY KEY,
    whole boolean NOT NULL DEFAULT false,
    lexemes tsquery,
    words tsquery,
    outlets text[],
    actors text[],
    years text[],
    languages text[],
    dated boolean NOT NULL DEFAULT false,     -- a date filter that takes dated articles only
    first_at timestamp,
    last_at timestamp,
    recent interval,
    undated_only boolean NOT NULL DEFAULT false,
    certainty text,
    required text[],
    compiled timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX alert_queries_required ON alert_queries USING gin (required);
CREATE INDEX alert_queries_always ON alert_queries (key) WHERE required IS NULL;
