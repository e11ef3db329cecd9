-- The earliest local day whose KPIs the ingests after $after can have
-- changed (null when they change none). `motcua kpi --incremental` recomputes
-- from that day's period on and keeps the slices before it.
-- @param after int required   the last lake ingest the published KPIs reflect

WITH
-- Dossiers with a new snapshot: any of their snapshots may have been, or now
-- be, the current one. Every instant a dossier KPI uses (completed_at,
-- due_at, closed_at) is on or after received_at, an ingest rule, so the
-- earliest received_on of all their snapshots bounds what can change.
touched_dossiers AS (
    SELECT DISTINCT dossier_id FROM dossier_snapshots WHERE ingest_seq > $after
),
-- Applications with a new start or submission move or complete at their
-- earliest start.
touched_applications AS (
    SELECT DISTINCT application_id FROM portal_events
    WHERE ingest_seq > $after AND event_type IN ('started', 'submitted')
)
SELECT min(day) AS affects_from FROM (
    SELECT min(received_on) AS day FROM dossier_snapshots
    WHERE dossier_id IN (SELECT dossier_id FROM touched_dossiers)
    UNION ALL
    -- A newer snapshot moves the as-of instant of overdue_open: the period
    -- that held the old one changes (a day early, for any zone's offset).
    SELECT CAST(CAST(max(updated_at) AS DATE) - INTERVAL '1 day' AS DATE) FROM dossier_snapshots
    WHERE ingest_seq <= $after AND $after < (SELECT max(ingest_seq) FROM dossier_snapshots)
    UNION ALL
    SELECT min(occurred_on) FROM portal_events
    WHERE event_type = 'started'
      AND application_id IN (SELECT application_id FROM touched_applications)
    UNION ALL
    SELECT min(occurred_on) FROM portal_events
    WHERE ingest_seq > $after AND event_type IN ('payment_succeeded', 'payment_failed')
    UNION ALL
    SELECT min(occurred_on) FROM signatures WHERE ingest_seq > $after
) touched
