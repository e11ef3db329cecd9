-- Data quality: unit codes that activity names but the registry does not
-- hold. Their rows are kept in the lake and count toward no unit (SPEC §2).
SELECT feed, unit_code, count(*) AS rows, min(first_seen) AS first_seen, max(last_seen) AS last_seen
FROM (
    SELECT 'dossiers' AS feed, unit_code, received_at AS first_seen, received_at AS last_seen FROM dossiers
    UNION ALL
    SELECT 'portal_events', unit_code, occurred_at, occurred_at FROM portal_events
    UNION ALL
    SELECT 'signatures', unit_code, occurred_at, occurred_at FROM signatures
    UNION ALL
    SELECT 'targets', unit_code, NULL, NULL FROM targets WHERE unit_code <> '*'
)
WHERE unit_code NOT IN (SELECT unit_code FROM units)
GROUP BY feed, unit_code
ORDER BY rows DESC, feed, unit_code
