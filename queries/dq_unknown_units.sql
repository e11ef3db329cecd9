-- Data quality: unit codes that activity names but the registry does not
-- hold. Their rows are kept in the lake and count toward no unit (SPEC §2).
WITH activity AS (
    SELECT 'dossiers' AS feed, unit_code, received_at AS seen_at FROM dossiers
    UNION ALL
    SELECT 'portal_events' AS feed, unit_code, occurred_at AS seen_at FROM portal_events
    UNION ALL
    SELECT 'signatures' AS feed, unit_code, occurred_at AS seen_at FROM signatures
)
SELECT a.feed, a.unit_code, count(*) AS rows, min(a.seen_at) AS first_seen, max(a.seen_at) AS last_seen
FROM activity a
LEFT ANTI JOIN units u ON u.unit_code = a.unit_code
GROUP BY a.feed, a.unit_code
ORDER BY rows DESC, a.feed, a.unit_code
