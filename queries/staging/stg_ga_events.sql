-- version: 1
-- materialized: view
-- description: GA4 events with the traffic fields of SPEC section 3 read out of the raw URLs.
SELECT
    e.user_pseudo_id,
    e.ga_session_id,
    e.event_at,
    e.source_file,
    e.source_line,
    NULLIF(TRIM(e.user_id), '') AS user_id,
    COALESCE(NULLIF(TRIM(e.gclid), ''), url_param(e.page_location, 'gclid')) AS gclid,
    NULLIF(LOWER(TRIM(e.manual_source)), '') AS manual_source,
    NULLIF(LOWER(TRIM(e.manual_medium)), '') AS manual_medium,
    NULLIF(LOWER(TRIM(e.manual_campaign_name)), '') AS manual_campaign,
    NULLIF(LOWER(TRIM(url_param(e.page_location, 'utm_source'))), '') AS utm_source,
    NULLIF(LOWER(TRIM(url_param(e.page_location, 'utm_medium'))), '') AS utm_medium,
    NULLIF(LOWER(TRIM(url_param(e.page_location, 'utm_campaign'))), '') AS utm_campaign,
    CASE WHEN own.host IS NULL THEN url_host(e.page_referrer) END AS external_referrer
FROM ga_events e
LEFT JOIN cfg_own_hosts own ON own.host = url_host(e.page_referrer)
