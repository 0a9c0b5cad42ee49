-- The active users of each ping (`counts_monthly.active_users`, else `active_user_count`), and of
-- each instance's latest ping: what puts an instance in a size cohort (service_ping_protocol::
-- cohort). NULL for pings stored before this version: their instances join a cohort with their
-- next ping.
ALTER TABLE usage_data ADD COLUMN active_users BIGINT;
ALTER TABLE instances ADD COLUMN active_users BIGINT;

-- The function that stores a batch of pings takes each ping's active users too (otherwise as in
-- 20261202100008).
DROP FUNCTION collector_store_pings(bigint[], text, bigint, text, text[], text[], text[], text[],
    text[], bytea[], text[], bigint[], text[], text[], text[], float8[], float8[], float8[],
    float8[], float8[], float8[], float8[], float8[], float8[], float8[]);

CREATE FUNCTION collector_store_pings(
    p_lock_keys bigint[], p_since text, p_max_bytes bigint, p_encoding text,
    p_uuids text[], p_recorded_ats text[], p_hostnames text[], p_versions text[],
    p_editions text[], p_payloads bytea[], p_sha256s text[], p_sizes bigint[], p_sources text[],
    p_received_ats text[], p_license_sha256s text[],
    p_issues float8[], p_notes float8[], p_milestones float8[], p_boards float8[],
    p_merge_requests float8[], p_ci_pipelines float8[], p_environments float8[],
    p_deployments float8[], p_projects_prometheus_active float8[], p_service_desk_issues float8[],
    p_active_users bigint[]
) RETURNS TABLE (ping integer, stored text, stored_id bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    earlier_id bigint;
    earlier_sha256 text;
    used bigint;
    new_id bigint;
    new_ids bigint[] := '{}';
BEGIN
    PERFORM pg_advisory_xact_lock(k) FROM unnest(p_lock_keys) AS k ORDER BY k;
    FOR i IN 1 .. coalesce(cardinality(p_uuids), 0) LOOP
        ping := i;
        SELECT u.id, u.sha256 INTO earlier_id, earlier_sha256 FROM usage_data AS u
        WHERE u.uuid = p_uuids[i] AND u.recorded_at = p_recorded_ats[i];
        IF FOUND THEN
            IF earlier_sha256 = p_sha256s[i] THEN
                stored := 'already_received'; stored_id := earlier_id;
            ELSE
                stored := 'conflict'; stored_id := NULL;
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;
        SELECT coalesce(sum(u.size_bytes), 0) INTO used FROM usage_data AS u
        WHERE u.uuid = p_uuids[i] AND u.received_at > p_since;
        IF used + p_sizes[i] > p_max_bytes THEN
            stored := 'over_quota'; stored_id := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;
        INSERT INTO usage_data (uuid, recorded_at, hostname, version, edition, payload,
            payload_encoding, sha256, size_bytes, source, received_at, issues, notes, milestones,
            boards, merge_requests, ci_pipelines, environments, deployments,
            projects_prometheus_active, service_desk_issues, active_users)
        VALUES (p_uuids[i], p_recorded_ats[i], p_hostnames[i], p_versions[i], p_editions[i],
            p_payloads[i], p_encoding, p_sha256s[i], p_sizes[i], p_sources[i], p_received_ats[i],
            p_issues[i], p_notes[i], p_milestones[i], p_boards[i], p_merge_requests[i],
            p_ci_pipelines[i], p_environments[i], p_deployments[i],
            p_projects_prometheus_active[i], p_service_desk_issues[i], p_active_users[i])
        RETURNING usage_data.id INTO new_id;
        IF p_license_sha256s[i] IS NOT NULL THEN
            UPDATE licenses SET last_ping_received_at = p_received_ats[i],
                last_ping_usage_data_id = new_id, last_ping_uuid = p_uuids[i]
            WHERE sha256 = p_license_sha256s[i];
        END IF;
        new_ids := new_ids || new_id;
        stored := 'created'; stored_id := new_id;
        RETURN NEXT;
    END LOOP;
    -- Each instance's row once per batch, from its newest ping in it (not once per ping: an
    -- update per ping would leave a dead row version behind for each).
    INSERT INTO instances AS t (uuid, first_received_at, pings, last_received_at,
        latest_usage_data_id, hostname, version, edition, issues, notes, milestones, boards,
        merge_requests, ci_pipelines, environments, deployments, projects_prometheus_active,
        service_desk_issues, active_users)
    SELECT DISTINCT ON (u.uuid) u.uuid, a.first_received_at, a.pings, u.received_at, u.id,
        u.hostname, u.version, u.edition, u.issues, u.notes, u.milestones, u.boards,
        u.merge_requests, u.ci_pipelines, u.environments, u.deployments,
        u.projects_prometheus_active, u.service_desk_issues, u.active_users
    FROM usage_data AS u
    JOIN (SELECT n.uuid, min(n.received_at) AS first_received_at, count(*) AS pings
          FROM usage_data AS n WHERE n.id = ANY (new_ids) GROUP BY n.uuid) AS a ON a.uuid = u.uuid
    WHERE u.id = ANY (new_ids)
    ORDER BY u.uuid, u.id DESC
    ON CONFLICT (uuid) DO UPDATE SET pings = t.pings + excluded.pings,
        first_received_at = least(t.first_received_at, excluded.first_received_at),
        last_received_at = excluded.last_received_at,
        latest_usage_data_id = excluded.latest_usage_data_id,
        hostname = excluded.hostname, version = excluded.version, edition = excluded.edition,
        issues = excluded.issues, notes = excluded.notes, milestones = excluded.milestones,
        boards = excluded.boards, merge_requests = excluded.merge_requests,
        ci_pipelines = excluded.ci_pipelines, environments = excluded.environments,
        deployments = excluded.deployments,
        projects_prometheus_active = excluded.projects_prometheus_active,
        service_desk_issues = excluded.service_desk_issues,
        active_users = excluded.active_users;
END
$$;
