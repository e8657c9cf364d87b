-- The articles, as the PostgreSQL backend keeps them (search/index/postgres.py applies this once).
--
-- Partitioned by month of publication: a partition per month, made when its first article is written
-- (search/index/postgres.py's ensure_month), and the undated articles in their own ('infinity'). A month's
-- partition holds its own indexes, so a date filter reads only the months it spans. PostgreSQL cannot keep an
-- id unique across partitions: article_months does, one row per article naming the month it is kept in, and the
-- writer moves an article whose date changed in the same transaction.
--
-- Each article's text is there twice over as tsvectors (search/index/lexemes.py): `lexemes`, stemmed, for
-- words and phrases; `words`, folded but not stemmed, for prefixes and wildcards. `words_seen` lists every word
-- of `words` with the number of articles holding it, for wildcards to be expanded against.

CREATE TABLE articles (
    month date NOT NULL,                  -- the first day of the month published (UTC); 'infinity' when undated
    id text NOT NULL,
    url text,
    title text NOT NULL,
    body text NOT NULL,
    author text,
    outlet text NOT NULL,
    year text NOT NULL,                   -- 'unknown' when undated, as the facet counts it
    language text NOT NULL,
    actors text[] NOT NULL DEFAULT '{}',
    published_utc timestamp,              -- naive UTC, to the second; NULL when undated
    published_iso text,                   -- the date as the article gave it (a day, or a moment with its offset)
    published_source text,
    origin text NOT NULL,
    cluster text NOT NULL,
    seq bigint NOT NULL,                  -- the ingest number (search/index/sequence.py)
    indexed_at timestamp NOT NULL,
    fingerprint text NOT NULL,
    text_key text NOT NULL,
    minhash text,
    lexemes tsvector NOT NULL,
    words tsvector NOT NULL,
    PRIMARY KEY (month, id)
) PARTITION BY RANGE (month);

CREATE TABLE articles_undated PARTITION OF articles FOR VALUES FROM ('infinity') TO (MAXVALUE);

CREATE INDEX articles_lexemes ON articles USING gin (lexemes);
CREATE INDEX articles_words ON articles USING gin (words);
CREATE INDEX articles_actors ON articles USING gin (actors);
CREATE INDEX articles_outlet ON articles (outlet);
CREATE INDEX articles_published ON articles (published_utc);
CREATE INDEX articles_cluster ON articles (cluster);
CREATE INDEX articles_seq ON articles (seq);

CREATE TABLE article_months (
    id text PRIMARY KEY,
    month date NOT NULL
);

CREATE TABLE words_seen (
    word text PRIMARY KEY,
    articles integer NOT NULL CHECK (articles >= 0)
);
CREATE INDEX words_seen_pattern ON words_seen (word text_pattern_ops);
