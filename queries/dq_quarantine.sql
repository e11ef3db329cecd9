-- Data quality: rejected rows per ingested file and column, with the most
-- frequent reason, so the export can be fixed at its source.
SELECT
    ingest_seq,
    feed,
    source_file,
    coalesce("column", '(row)') AS "column",
    count(*) AS rows,
    min(line) AS first_line,
    first_value(reason ORDER BY line) AS first_reason
FROM quarantine
GROUP BY ingest_seq, feed, source_file, coalesce("column", '(row)')
ORDER BY ingest_seq, rows DESC, "column"
