-- Counting without reading every article (issue 19's measures: the front page was 21× Whoosh's, its counting
-- statement listing every article of every partition).
--
-- facet_counts: every facet value's number of articles over the whole table, and the total (facet 'total',
-- value ''), kept by statement triggers on articles in the transaction that changes them — whatever writes
-- (the writer, a takedown, a migration's copy, a hand-made UPDATE) — so a search with no query text, no date
-- filter and no facet filter (the front page) can read its counts here instead of grouping every row. An
-- actor counts once per element of an article's actors array, as the counting statement's unnest does; a
-- value no article holds any more has no row. The triggers aggregate each statement's transition table and
-- change the rows in key order, so two transactions cannot deadlock on them.
--
-- cluster_counts: each story's (syndication cluster's) articles by outlet, kept by the same triggers, so a
-- results page's "n copies, also in …" reads a few rows by key instead of probing the cluster index of every
-- month's partition.
--
-- articles_newest: the date order of results pages (newest first, undated last, then ingest number and id)
-- as an index, so a page in that order is read from each partition's index and merged, not sorted from every
-- row. It serves the date filter's ranges too, so the plain published_utc index goes.

CREATE TABLE facet_counts (
    facet text NOT NULL,       -- 'outlet', 'actor', 'year', 'language', or 'total'
    value text NOT NULL,       -- '' for the total
    articles bigint NOT NULL,  -- no CHECK: INSERT … ON CONFLICT checks the proposed row, a decrease
    PRIMARY KEY (facet, value)
);
CREATE INDEX facet_counts_gone ON facet_counts (facet, value) WHERE articles = 0;

CREATE TABLE cluster_counts (
    cluster text NOT NULL,
    outlet text NOT NULL,
    articles bigint NOT NULL,
    PRIMARY KEY (cluster, outlet)
);
CREATE INDEX cluster_counts_gone ON cluster_counts (cluster, outlet) WHERE articles = 0;

-- Each statement's rows (its transition tables: old_rows, new_rows, visible to the trigger function only)
-- counted by facet value and by cluster and outlet, minus the old and plus the new, added to facet_counts and
-- cluster_counts; then the values and pairs no article holds any more go.
CREATE FUNCTION articles_counted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    counted constant text := $sql$
        SELECT 'total' AS facet, '' AS value, count(*) AS n FROM %1$I
        UNION ALL SELECT 'outlet', outlet, count(*) FROM %1$I GROUP BY outlet
        UNION ALL SELECT 'year', year, count(*) FROM %1$I GROUP BY year
        UNION ALL SELECT 'language', language, count(*) FROM %1$I GROUP BY language
        UNION ALL SELECT 'actor', actor, count(*) FROM %1$I CROSS JOIN LATERAL unnest(actors) AS actor GROUP BY actor
    $sql$;
    stories constant text := 'SELECT cluster, outlet, count(*) AS n FROM %1$I GROUP BY cluster, outlet';
    changes text[] := '{}';
    moves text[] := '{}';
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        changes := changes || format('SELECT facet, value, -n AS n FROM (%s) old', format(counted, 'old_rows'));
        moves := moves || format('SELECT cluster, outlet, -n AS n FROM (%s) old', format(stories, 'old_rows'));
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        changes := changes || format('SELECT facet, value, n FROM (%s) new', format(counted, 'new_rows'));
        moves := moves || format('SELECT cluster, outlet, n FROM (%s) new', format(stories, 'new_rows'));
    END IF;
    EXECUTE format($sql$
        INSERT INTO facet_counts AS f (facet, value, articles)
        SELECT facet, value, sum(n) FROM (%s) change GROUP BY facet, value HAVING sum(n) <> 0
        ORDER BY facet, value
        ON CONFLICT (facet, value) DO UPDATE SET articles = f.articles + excluded.articles
    $sql$, array_to_string(changes, ' UNION ALL '));
    EXECUTE format($sql$
        INSERT INTO cluster_counts AS c (cluster, outlet, articles)
        SELECT cluster, outlet, sum(n) FROM (%s) change GROUP BY cluster, outlet HAVING sum(n) <> 0
        ORDER BY cluster, outlet
        ON CONFLICT (cluster, outlet) DO UPDATE SET articles = c.articles + excluded.articles
    $sql$, array_to_string(moves, ' UNION ALL '));
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM facet_counts WHERE articles = 0;
        DELETE FROM cluster_counts WHERE articles = 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER articles_counted_insert AFTER INSERT ON articles REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION articles_counted();
CREATE TRIGGER articles_counted_update AFTER UPDATE ON articles REFERENCING OLD TABLE AS old_rows
    NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION articles_counted();
CREATE TRIGGER articles_counted_delete AFTER DELETE ON articles REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION articles_counted();

-- TRUNCATE has no transition table: it empties the counts with the articles.
CREATE FUNCTION articles_emptied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM facet_counts;
    DELETE FROM cluster_counts;
    RETURN NULL;
END $$;
CREATE TRIGGER articles_counted_truncate AFTER TRUNCATE ON articles
    FOR EACH STATEMENT EXECUTE FUNCTION articles_emptied();

-- Whatever the table held before this migration.
INSERT INTO facet_counts (facet, value, articles)
SELECT facet, value, sum(n) FROM (
    SELECT 'total' AS facet, '' AS value, count(*) AS n FROM articles
    UNION ALL SELECT 'outlet', outlet, count(*) FROM articles GROUP BY outlet
    UNION ALL SELECT 'year', year, count(*) FROM articles GROUP BY year
    UNION ALL SELECT 'language', language, count(*) FROM articles GROUP BY language
    UNION ALL SELECT 'actor', actor, count(*) FROM articles CROSS JOIN LATERAL unnest(actors) AS actor GROUP BY actor
) found WHERE n > 0 GROUP BY facet, value;
INSERT INTO cluster_counts (cluster, outlet, articles) SELECT cluster, outlet, count(*) FROM articles
    GROUP BY cluster, outlet;

CREATE INDEX articles_newest ON articles (published_utc DESC NULLS LAST, seq, id);
DROP INDEX articles_published;
