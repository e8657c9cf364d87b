-- What the PostgreSQL writer (search/index/pg_writer.py) needs beside the articles: ingest numbers and the
-- lookup keys copies are found by (search/index/duplicates.py).
--
-- Ingest numbers (search/index/sequence.py's rules): one SEQUENCE every writer draws from, and each article's
-- number kept for good in article_numbers — through updates, re-ingests and a takedown — so an article that
-- comes back is not new to the alerts again. A number drawn by a batch that rolls back is lost, never reused.

CREATE SEQUENCE article_seq AS bigint;

CREATE TABLE article_numbers (
    id text PRIMARY KEY,
    seq bigint NOT NULL UNIQUE,
    indexed timestamptz NOT NULL DEFAULT now()  -- when the number was given: an undated article's fixed date
);

-- Exact copies share a text_key: looked up for every new or changed article.
CREATE INDEX articles_text_key ON articles (text_key);

-- Near copies: the 16 band keys of an article's MinHash sketch (duplicates.band_terms), one row each; texts
-- sharing a band are candidates, compared by their sketches and then their shingles. Articles too short for a
-- sketch have none. Kept beside the article, written and deleted with it.
CREATE TABLE article_bands (
    band text NOT NULL,
    id text NOT NULL,
    PRIMARY KEY (band, id)
);
CREATE INDEX article_bands_id ON article_bands (id);
