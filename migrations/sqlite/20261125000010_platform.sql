-- The demo DevOps platform that Service Ping describes: the entities GitLab counts.
-- Timestamps are TEXT in SQLite's own 'YYYY-MM-DD HH:MM:SS' (UTC) form, so date() and
-- comparisons work directly. Indexes serve the metric windows (created_at) and joins.

CREATE TABLE users (
    id                  INTEGER NOT NULL CONSTRAINT users_pkey PRIMARY KEY,
    username            TEXT    NOT NULL CONSTRAINT users_username_key UNIQUE,
    name                TEXT    NOT NULL,
    email               TEXT    NOT NULL CONSTRAINT users_email_key UNIQUE,
    state               TEXT    NOT NULL CONSTRAINT users_state_check CHECK (state IN ('active', 'blocked', 'deactivated')),
    user_type           TEXT    NOT NULL DEFAULT 'human' CONSTRAINT users_user_type_check CHECK (user_type IN ('human', 'bot', 'support_bot')),
    admin               BOOLEAN NOT NULL DEFAULT FALSE,
    last_activity_on    TEXT,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL
);
CREATE INDEX users_created_at_idx ON users (created_at);

CREATE TABLE namespaces (
    id          INTEGER NOT NULL CONSTRAINT namespaces_pkey PRIMARY KEY,
    name        TEXT    NOT NULL,
    path        TEXT    NOT NULL CONSTRAINT namespaces_path_key UNIQUE,
    type        TEXT    NOT NULL DEFAULT 'Group' CONSTRAINT namespaces_type_check CHECK (type IN ('Group', 'User')),
    visibility  TEXT    NOT NULL CONSTRAINT namespaces_visibility_check CHECK (visibility IN ('private', 'internal', 'public')),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX namespaces_created_at_idx ON namespaces (created_at);

CREATE TABLE projects (
    id                      INTEGER NOT NULL CONSTRAINT projects_pkey PRIMARY KEY,
    namespace_id            INTEGER NOT NULL CONSTRAINT projects_namespace_fkey REFERENCES namespaces (id),
    creator_id              INTEGER NOT NULL CONSTRAINT projects_creator_fkey REFERENCES users (id),
    name                    TEXT    NOT NULL,
    visibility              TEXT    NOT NULL CONSTRAINT projects_visibility_check CHECK (visibility IN ('private', 'internal', 'public')),
    archived                BOOLEAN NOT NULL DEFAULT FALSE,
    prometheus_active       BOOLEAN NOT NULL DEFAULT FALSE,
    service_desk_enabled    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at              TEXT    NOT NULL,
    updated_at              TEXT    NOT NULL
);
CREATE INDEX projects_created_at_idx ON projects (created_at);

CREATE TABLE members (
    id              INTEGER NOT NULL CONSTRAINT members_pkey PRIMARY KEY,
    user_id         INTEGER NOT NULL CONSTRAINT members_user_fkey REFERENCES users (id),
    source_type     TEXT    NOT NULL CONSTRAINT members_source_type_check CHECK (source_type IN ('Project', 'Namespace')),
    source_id       INTEGER NOT NULL,
    access_level    INTEGER NOT NULL CONSTRAINT members_access_level_check CHECK (access_level IN (10, 20, 30, 40, 50)),
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX members_created_at_idx ON members (created_at);
CREATE INDEX members_user_id_idx ON members (user_id);

CREATE TABLE milestones (
    id          INTEGER NOT NULL CONSTRAINT milestones_pkey PRIMARY KEY,
    project_id  INTEGER NOT NULL CONSTRAINT milestones_project_fkey REFERENCES projects (id),
    title       TEXT    NOT NULL,
    state       TEXT    NOT NULL CONSTRAINT milestones_state_check CHECK (state IN ('active', 'closed')),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX milestones_created_at_idx ON milestones (created_at);

CREATE TABLE labels (
    id          INTEGER NOT NULL CONSTRAINT labels_pkey PRIMARY KEY,
    project_id  INTEGER NOT NULL CONSTRAINT labels_project_fkey REFERENCES projects (id),
    title       TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX labels_created_at_idx ON labels (created_at);

CREATE TABLE boards (
    id          INTEGER NOT NULL CONSTRAINT boards_pkey PRIMARY KEY,
    project_id  INTEGER NOT NULL CONSTRAINT boards_project_fkey REFERENCES projects (id),
    name        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX boards_created_at_idx ON boards (created_at);

CREATE TABLE issues (
    id              INTEGER NOT NULL CONSTRAINT issues_pkey PRIMARY KEY,
    project_id      INTEGER NOT NULL CONSTRAINT issues_project_fkey REFERENCES projects (id),
    author_id       INTEGER NOT NULL CONSTRAINT issues_author_fkey REFERENCES users (id),
    milestone_id    INTEGER CONSTRAINT issues_milestone_fkey REFERENCES milestones (id),
    title           TEXT    NOT NULL,
    state           TEXT    NOT NULL CONSTRAINT issues_state_check CHECK (state IN ('opened', 'closed')),
    issue_type      TEXT    NOT NULL DEFAULT 'issue' CONSTRAINT issues_issue_type_check CHECK (issue_type IN ('issue', 'incident', 'task')),
    confidential    BOOLEAN NOT NULL DEFAULT FALSE,
    service_desk    BOOLEAN NOT NULL DEFAULT FALSE,
    closed_at       TEXT,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX issues_created_at_idx ON issues (created_at);

CREATE TABLE merge_requests (
    id              INTEGER NOT NULL CONSTRAINT merge_requests_pkey PRIMARY KEY,
    project_id      INTEGER NOT NULL CONSTRAINT merge_requests_project_fkey REFERENCES projects (id),
    author_id       INTEGER NOT NULL CONSTRAINT merge_requests_author_fkey REFERENCES users (id),
    title           TEXT    NOT NULL,
    state           TEXT    NOT NULL CONSTRAINT merge_requests_state_check CHECK (state IN ('opened', 'merged', 'closed')),
    merged_at       TEXT,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX merge_requests_created_at_idx ON merge_requests (created_at);

CREATE TABLE notes (
    id              INTEGER NOT NULL CONSTRAINT notes_pkey PRIMARY KEY,
    project_id      INTEGER NOT NULL CONSTRAINT notes_project_fkey REFERENCES projects (id),
    author_id       INTEGER NOT NULL CONSTRAINT notes_author_fkey REFERENCES users (id),
    noteable_type   TEXT    NOT NULL CONSTRAINT notes_noteable_type_check CHECK (noteable_type IN ('Issue', 'MergeRequest', 'Commit', 'Snippet')),
    noteable_id     INTEGER NOT NULL,
    system          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX notes_created_at_idx ON notes (created_at);

CREATE TABLE ci_pipelines (
    id          INTEGER NOT NULL CONSTRAINT ci_pipelines_pkey PRIMARY KEY,
    project_id  INTEGER NOT NULL CONSTRAINT ci_pipelines_project_fkey REFERENCES projects (id),
    user_id     INTEGER CONSTRAINT ci_pipelines_user_fkey REFERENCES users (id),
    status      TEXT    NOT NULL CONSTRAINT ci_pipelines_status_check CHECK (status IN ('success', 'failed', 'canceled', 'skipped', 'running', 'pending')),
    source      TEXT    NOT NULL CONSTRAINT ci_pipelines_source_check CHECK (source IN ('push', 'web', 'schedule', 'merge_request_event', 'api', 'trigger', 'external')),
    config_source TEXT  NOT NULL DEFAULT 'repository' CONSTRAINT ci_pipelines_config_source_check CHECK (config_source IN ('repository', 'auto_devops')),
    duration    INTEGER,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX ci_pipelines_created_at_idx ON ci_pipelines (created_at);

CREATE TABLE ci_builds (
    id          INTEGER NOT NULL CONSTRAINT ci_builds_pkey PRIMARY KEY,
    pipeline_id INTEGER NOT NULL CONSTRAINT ci_builds_pipeline_fkey REFERENCES ci_pipelines (id),
    project_id  INTEGER NOT NULL CONSTRAINT ci_builds_project_fkey REFERENCES projects (id),
    user_id     INTEGER CONSTRAINT ci_builds_user_fkey REFERENCES users (id),
    name        TEXT    NOT NULL,
    status      TEXT    NOT NULL CONSTRAINT ci_builds_status_check CHECK (status IN ('success', 'failed', 'canceled', 'skipped', 'running', 'pending')),
    duration    INTEGER,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX ci_builds_created_at_idx ON ci_builds (created_at);

CREATE TABLE environments (
    id          INTEGER NOT NULL CONSTRAINT environments_pkey PRIMARY KEY,
    project_id  INTEGER NOT NULL CONSTRAINT environments_project_fkey REFERENCES projects (id),
    name        TEXT    NOT NULL,
    tier        TEXT    NOT NULL CONSTRAINT environments_tier_check CHECK (tier IN ('production', 'staging', 'testing', 'development', 'other')),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX environments_created_at_idx ON environments (created_at);

CREATE TABLE deployments (
    id              INTEGER NOT NULL CONSTRAINT deployments_pkey PRIMARY KEY,
    environment_id  INTEGER NOT NULL CONSTRAINT deployments_environment_fkey REFERENCES environments (id),
    project_id      INTEGER NOT NULL CONSTRAINT deployments_project_fkey REFERENCES projects (id),
    user_id         INTEGER CONSTRAINT deployments_user_fkey REFERENCES users (id),
    status          TEXT    NOT NULL CONSTRAINT deployments_status_check CHECK (status IN ('success', 'failed', 'canceled', 'running')),
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX deployments_created_at_idx ON deployments (created_at);

CREATE TABLE releases (
    id          INTEGER NOT NULL CONSTRAINT releases_pkey PRIMARY KEY,
    project_id  INTEGER NOT NULL CONSTRAINT releases_project_fkey REFERENCES projects (id),
    author_id   INTEGER CONSTRAINT releases_author_fkey REFERENCES users (id),
    tag         TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX releases_created_at_idx ON releases (created_at);

CREATE TABLE snippets (
    id          INTEGER NOT NULL CONSTRAINT snippets_pkey PRIMARY KEY,
    author_id   INTEGER NOT NULL CONSTRAINT snippets_author_fkey REFERENCES users (id),
    project_id  INTEGER CONSTRAINT snippets_project_fkey REFERENCES projects (id),
    type        TEXT    NOT NULL CONSTRAINT snippets_type_check CHECK (type IN ('PersonalSnippet', 'ProjectSnippet')),
    title       TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX snippets_created_at_idx ON snippets (created_at);

CREATE TABLE keys (
    id          INTEGER NOT NULL CONSTRAINT keys_pkey PRIMARY KEY,
    user_id     INTEGER CONSTRAINT keys_user_fkey REFERENCES users (id),
    type        TEXT    NOT NULL CONSTRAINT keys_type_check CHECK (type IN ('Key', 'DeployKey')),
    title       TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX keys_created_at_idx ON keys (created_at);

CREATE TABLE web_hooks (
    id          INTEGER NOT NULL CONSTRAINT web_hooks_pkey PRIMARY KEY,
    project_id  INTEGER CONSTRAINT web_hooks_project_fkey REFERENCES projects (id),
    type        TEXT    NOT NULL CONSTRAINT web_hooks_type_check CHECK (type IN ('ProjectHook', 'SystemHook', 'GroupHook')),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX web_hooks_created_at_idx ON web_hooks (created_at);

CREATE TABLE events (
    id          INTEGER NOT NULL CONSTRAINT events_pkey PRIMARY KEY,
    author_id   INTEGER NOT NULL CONSTRAINT events_author_fkey REFERENCES users (id),
    project_id  INTEGER CONSTRAINT events_project_fkey REFERENCES projects (id),
    action      TEXT    NOT NULL CONSTRAINT events_action_check CHECK (action IN ('created', 'updated', 'closed', 'reopened', 'pushed', 'commented', 'merged', 'joined', 'left', 'destroyed', 'approved')),
    target_type TEXT    CONSTRAINT events_target_type_check CHECK (target_type IN ('Issue', 'MergeRequest', 'Note', 'Milestone', 'Project', 'WikiPage', 'DesignManagement::Design')),
    target_id   INTEGER,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX events_created_at_idx ON events (created_at);
