-- Data quality: unit codes that activity names but the registry does not
-- hold on the activity's day (a dossier's received_on, an event's
-- occurred_on). Their rows are kept in the lake and count toward no unit
-- (SPEC §2, §2.1).
WITH activity AS (
    SELECT 'dossiers' AS feed, unit_code, received_at AS seen_at, received_on AS day FROM dossiers
    UNION ALL
    SELECT 'portal_events' AS feed, unit_code, occurred_at AS seen_at, occurred_on AS day FROM portal_events
    UNION ALL
    SELECT 'signatures' AS feed, unit_code, occurred_at AS seen_at, occurred_on AS day FROM signatures
)
SELECT a.feed, a.unit_code, count(*) AS rows, min(a.seen_at) AS first_seen, max(a.seen_at) AS last_seen
FROM activity a
LEFT ANTI JOIN unit_versions u
  ON u.unit_code = a.unit_code
 AND (u.valid_from IS NULL OR u.valid_from <= a.day)
 AND (u.valid_to IS NULL OR a.day < u.valid_to)
GROUP BY a.feed, a.unit_code
ORDER BY rows DESC, a.feed, a.unit_code
