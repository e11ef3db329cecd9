-- Data quality: dossiers whose snapshots contradict each other: the receipt
-- time changed between exports, a closed dossier reopened in a later
-- snapshot, or a snapshot reports a completion after its own update time.
WITH ordered AS (
    SELECT
        dossier_id, unit_code, status, received_at, completed_at, updated_at,
        lag(status) OVER w AS previous_status,
        lag(received_at) OVER w AS previous_received_at
    FROM dossier_snapshots
    WINDOW w AS (PARTITION BY dossier_id ORDER BY updated_at, ingest_seq, source_line)
)
SELECT dossier_id, unit_code, problem, min(updated_at) AS first_seen, count(*) AS snapshots
FROM (
    SELECT dossier_id, unit_code, updated_at, 'received_at changed between snapshots' AS problem
    FROM ordered WHERE previous_received_at IS NOT NULL AND received_at <> previous_received_at
    UNION ALL
    SELECT dossier_id, unit_code, updated_at, 'reopened after ' || previous_status
    FROM ordered
    WHERE previous_status IN ('resolved', 'returned', 'withdrawn', 'rejected')
      AND status IN ('received', 'in_progress')
    UNION ALL
    SELECT dossier_id, unit_code, updated_at, 'completed_at after updated_at'
    FROM ordered WHERE completed_at > updated_at
)
GROUP BY dossier_id, unit_code, problem
ORDER BY first_seen, dossier_id, problem
